import FileIO
import NIOConcurrencyHelpers
import SystemPackage
import TestTiming
import Testing

@testable import MailStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Maildrop locking and takeover")
struct MaildropLockTests {
    @Test("a second open in the same process is refused until the first closes")
    func sameProcess() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            let first = try await fixture.open()
            await #expect(throws: MailStoreError.inUse) { _ = try await fixture.open() }
            // Another store value over the same tree (a second listener) is refused too.
            let other = try MaildirStore(
                template: directory + "/%u/Maildir",
                takeoverAfter: TestTimeScale.scaled(.seconds(60))
            )
            await #expect(throws: MailStoreError.inUse) { _ = try await other.openMaildrop(user: "alice") }
            // Other users are independent.
            let bob = try await fixture.open("bob")
            await first.close()
            await first.close()  // idempotent
            let second = try await fixture.open()
            await second.close()
            await bob.close()
        }
    }

    @Test("flock conflicts between two open file descriptions of one process")
    func flockPerOpenFileDescription() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let path = directory + "/postoffice.lock"
            try TestFiles.writeFile(path, "")
            let outside = open(path, O_RDWR)
            try #require(outside >= 0)
            defer { close(outside) }
            #expect(flock(outside, LOCK_EX | LOCK_NB) == 0)
            // The process-wide registry does not know this descriptor: only flock can refuse.
            let budget = DescriptorBudget(limit: nil)
            guard case .inUse = try MaildropLockFile.acquire(path: FilePath(path), budget: budget) else {
                Issue.record("the lock was taken past another descriptor's flock")
                return
            }
            #expect(budget.counts.files == 0, "a refused lock file is not counted")
            #expect(flock(outside, LOCK_UN) == 0)
            guard case .acquired(let lock) = try MaildropLockFile.acquire(path: FilePath(path), budget: budget) else {
                Issue.record("the lock was refused with nobody holding it")
                return
            }
            #expect(budget.counts.files == 1)
            #expect(flock(outside, LOCK_EX | LOCK_NB) != 0, "our lock excludes the other descriptor")
            lock.release()
            #expect(budget.counts.files == 0)
            #expect(flock(outside, LOCK_EX | LOCK_NB) == 0)
        }
    }

    @Test("with no descriptor left for a lock file, the session silent longest lets its lock go")
    func descriptorBudgetReleasesTheLongestSilent() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            // Room for two lock files and one connection's socket.
            let budget = DescriptorBudget(limit: 3)
            budget.connectionOpened()
            let fixture = try MaildirFixture(directory: directory, descriptorBudget: budget)
            try fixture.put("1000.M1P1.h", "keep me\n", user: "alice")
            let alice = try await fixture.open("alice")
            try await Task.sleep(for: .milliseconds(20))
            let bob = try await fixture.open("bob")
            try await Task.sleep(for: .milliseconds(20))
            try await alice.touch()  // now bob is the one silent longest
            #expect(budget.counts.files == 2)

            let carol = try await fixture.open("carol")
            #expect(!bob.isLeaseHeld, "the longest-silent session let its lock go")
            #expect(alice.isLeaseHeld && carol.isLeaseHeld)
            #expect(budget.counts.files == 2)

            // Bob's next command takes his lock back, releasing the longest-silent one (alice).
            try await bob.touch()
            #expect(bob.isLeaseHeld && !alice.isLeaseHeld && carol.isLeaseHeld)
            // Released for want of descriptors is released as after a silence: nobody took
            // alice's maildrop, so her session goes on and reads. Taking her lock back released
            // carol's (silent longest), and the message file, held while it is sent, bob's.
            let content = try await MaildirFixture.content(alice, 0)
            #expect(content == Array("keep me\n".utf8))
            #expect(alice.isLeaseHeld && !bob.isLeaseHeld && !carol.isLeaseHeld)
            #expect(budget.counts.files == 1, "the message file is closed and given back")

            for session in [alice, bob, carol] { await session.close() }
            #expect(budget.counts.files == 0)
        }
    }

    @Test("a maildrop released for want of descriptors can be taken over by a new login")
    func descriptorBudgetReleaseAllowsTakeover() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let budget = DescriptorBudget(limit: 2)
            let fixture = try MaildirFixture(directory: directory, descriptorBudget: budget)
            try fixture.put("1000.M1P1.h", "keep me\n", user: "alice")
            let alice = try await fixture.open("alice")
            try await Task.sleep(for: .milliseconds(20))
            let bob = try await fixture.open("bob")
            let carol = try await fixture.open("carol")
            #expect(!alice.isLeaseHeld)
            // Bob leaves; a new login of alice finds her old session's lock free and takes it.
            await bob.close()
            let newAlice = try await fixture.open("alice")
            await #expect(throws: MailStoreError.takenOver) { try await alice.touch() }
            await #expect(throws: MailStoreError.takenOver) { try await alice.commitDeletions([0]) }
            #expect(try TestFiles.list(fixture.root("alice") + "/new") == ["1000.M1P1.h"], "nothing was deleted")
            for session in [alice, newAlice, carol] { await session.close() }
            #expect(budget.counts.files == 0)
        }
    }

    @Test("with every lock busy and no descriptor left, a login fails with a temporary error")
    func descriptorBudgetSpent() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            // Alice's lock file and the message file she reads.
            let budget = DescriptorBudget(limit: 2)
            let fixture = try MaildirFixture(directory: directory, descriptorBudget: budget)
            try fixture.put("1000.M1P1.h", String(repeating: "x", count: 300_000) + "\n", user: "alice")
            let alice = try await fixture.open("alice")
            // A read running keeps the lock; meanwhile no other lock file fits.
            try await alice.readContent(at: 0) { _ in
                await #expect(throws: MailStoreError.io(MaildropLease.noDescriptorMessage)) {
                    _ = try await fixture.open("bob")
                }
            }
            #expect(alice.isLeaseHeld)
            #expect(budget.counts.files == 1)
            try fixture.put("1000.M2P1.h", "for bob\n", user: "bob")
            let bob = try await fixture.open("bob")
            #expect(alice.isLeaseHeld, "two lock files fit")
            // Bob's read needs a third descriptor: alice, idle now, lets her lock go.
            #expect(try await MaildirFixture.content(bob, 0) == Array("for bob\n".utf8))
            #expect(!alice.isLeaseHeld && bob.isLeaseHeld)
            await alice.close()
            await bob.close()
            #expect(budget.counts.files == 0)
        }
    }

    @Test("a login right after connections took the process past the budget still finds room")
    func descriptorBudgetLoginAfterOverdraft() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let budget = DescriptorBudget(limit: 3)
            let fixture = try MaildirFixture(directory: directory, descriptorBudget: budget)
            let alice = try await fixture.open("alice")
            let bob = try await fixture.open("bob")
            // Two sockets: one over the budget. The release they ask for runs later, off their
            // thread; the login must not depend on it having run.
            budget.connectionOpened()
            budget.connectionOpened()
            let carol = try await fixture.open("carol")
            #expect(!alice.isLeaseHeld && !bob.isLeaseHeld && carol.isLeaseHeld)
            #expect(budget.counts.files == 1)
            for session in [alice, bob, carol] { await session.close() }
        }
    }

    @Test("a connection past the budget makes a silent session let its lock go")
    func descriptorBudgetOverdraft() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let budget = DescriptorBudget(limit: 2)
            let fixture = try MaildirFixture(directory: directory, descriptorBudget: budget)
            let alice = try await fixture.open("alice")
            budget.connectionOpened()
            #expect(alice.isLeaseHeld, "the budget is not spent yet")
            budget.connectionOpened()  // one over: released soon, off the caller's thread
            #expect(await eventually { !alice.isLeaseHeld })
            #expect(budget.counts.files == 0)
            budget.connectionClosed()
            try await alice.touch()
            #expect(alice.isLeaseHeld)
            await alice.close()
        }
    }

    @Test("a silent session is taken over; it then can neither touch, read nor delete")
    func takeover() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            // The new session must still hold its lease between its touch and the last open:
            // scaled for slow builds.
            let fixture = try MaildirFixture(
                directory: directory,
                takeoverAfter: TestTimeScale.scaled(.milliseconds(300))
            )
            try fixture.put("1000.M1P1.h", "keep me\n")
            let old = try await fixture.open()
            await #expect(throws: MailStoreError.inUse) { _ = try await fixture.open() }

            // Silent for longer than takeoverAfter: the old session lets its flock go.
            #expect(await eventually { !old.isLeaseHeld })
            let new = try await fixture.open()
            #expect(new.messages.count == 1)

            await #expect(throws: MailStoreError.takenOver) { try await old.touch() }
            await #expect(throws: MailStoreError.takenOver) { try await old.commitDeletions([0]) }
            await #expect(throws: MailStoreError.takenOver) { try await old.readContent(at: 0) { _ in } }
            #expect(try TestFiles.list(fixture.root() + "/new") == ["1000.M1P1.h"], "nothing was deleted")

            try await new.touch()
            await old.close()
            await #expect(throws: MailStoreError.inUse) { _ = try await fixture.open() }
            await new.close()
        }
    }

    @Test("one timer serves every lease: one due sooner than those watched before it is released in time")
    func leasesWithDifferentDeadlines() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let slow = try MaildirFixture(directory: directory + "/slow")
            let quick = try MaildirFixture(directory: directory + "/quick", takeoverAfter: .milliseconds(300))
            // The watchdog sleeps until the first lease may be due, a minute away...
            let long = try await slow.open()
            let short = try await quick.open()
            // ...and the second, due in 300 ms, is still let go long before that.
            #expect(await eventually { !short.isLeaseHeld })
            #expect(long.isLeaseHeld)
            try await long.touch()
            await short.close()
            await long.close()
            // A closed lease is no longer watched: a new open of each works at once.
            let again = try await quick.open()
            await again.close()
        }
    }

    @Test("a session taken over by one that has already left still finds out")
    func takeoverByFinishedSession() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            // The new session must still hold its lease between its touch and the last open:
            // scaled for slow builds.
            let fixture = try MaildirFixture(
                directory: directory,
                takeoverAfter: TestTimeScale.scaled(.milliseconds(300))
            )
            try fixture.put("1000.M1P1.h", "keep me\n")
            let old = try await fixture.open()
            #expect(await eventually { !old.isLeaseHeld })
            let new = try await fixture.open()
            await new.close()
            // The flock is free again, but the generation in the lock file is not `old`'s.
            await #expect(throws: MailStoreError.takenOver) { try await old.touch() }
            await #expect(throws: MailStoreError.takenOver) { try await old.commitDeletions([0]) }
            #expect(try TestFiles.list(fixture.root() + "/new") == ["1000.M1P1.h"])
            await old.close()
        }
    }

    @Test("a silent session is told of its takeover without speaking, and deletes nothing")
    func takeoverNotice() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            // The new session must still hold its lease between its touch and the last open:
            // scaled for slow builds.
            let fixture = try MaildirFixture(
                directory: directory,
                takeoverAfter: TestTimeScale.scaled(.milliseconds(300))
            )
            try fixture.put("1000.M1P1.h", "keep me\n")
            let old = try await fixture.open()
            let told = NIOLockedValueBox(0)
            old.whenTakenOver { told.withLockedValue { $0 += 1 } }
            #expect(await eventually { !old.isLeaseHeld })
            // Released but not taken over: the session is not told anything.
            try await Task.sleep(for: .milliseconds(700))
            #expect(told.withLockedValue { $0 } == 0)

            let new = try await fixture.open()
            #expect(await eventually(seconds: 3) { told.withLockedValue { $0 } == 1 })
            await #expect(throws: MailStoreError.takenOver) { try await old.commitDeletions([0]) }
            #expect(try TestFiles.list(fixture.root() + "/new") == ["1000.M1P1.h"], "nothing was deleted")
            // A handler given after the loss is called at once; the first is not called again.
            let late = NIOLockedValueBox(false)
            old.whenTakenOver { late.withLockedValue { $0 = true } }
            #expect(late.withLockedValue { $0 })
            #expect(told.withLockedValue { $0 } == 1)
            await old.close()
            await new.close()
        }
    }

    @Test("a takeover by another process is noticed from the lock file alone")
    func takeoverNoticeAcrossProcesses() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory, takeoverAfter: .milliseconds(300))
            let old = try await fixture.open()
            let told = NIOLockedValueBox(false)
            old.whenTakenOver { told.withLockedValue { $0 = true } }
            #expect(await eventually { !old.isLeaseHeld })
            // What another process's session does: flock the file and write its generation.
            let descriptor = open(fixture.root() + "/" + MaildropLockFile.fileName, O_RDWR)
            #expect(descriptor >= 0)
            defer { close(descriptor) }
            #expect(flock(descriptor, LOCK_EX | LOCK_NB) == 0)
            let line = Array("generation 7 pid 1 nonce feed\n".utf8)
            #expect(pwrite(descriptor, line, line.count, 0) == line.count)
            #expect(ftruncate(descriptor, off_t(line.count)) == 0)
            #expect(await eventually(seconds: 3) { told.withLockedValue { $0 } })
            await #expect(throws: MailStoreError.takenOver) { try await old.touch() }
            await old.close()
        }
    }

    @Test("a closed session is never told of a later takeover")
    func noNoticeAfterClose() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory, takeoverAfter: .milliseconds(200))
            let old = try await fixture.open()
            let told = NIOLockedValueBox(false)
            old.whenTakenOver { told.withLockedValue { $0 = true } }
            #expect(await eventually { !old.isLeaseHeld })
            await old.close()
            let new = try await fixture.open()
            try await Task.sleep(for: .milliseconds(600))
            #expect(!told.withLockedValue { $0 })
            await new.close()
        }
    }

    @Test("a silent session nobody wanted takes its lease back on the next touch")
    func reacquire() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            // Between the touch and the second open the lease must still be held: scaled, so a
            // slow build does not let it lapse in between.
            let fixture = try MaildirFixture(
                directory: directory,
                takeoverAfter: TestTimeScale.scaled(.milliseconds(300))
            )
            try fixture.put("1000.M1P1.h", "delete me\n")
            let session = try await fixture.open()
            #expect(await eventually { !session.isLeaseHeld })
            try await session.touch()
            #expect(session.isLeaseHeld)
            await #expect(throws: MailStoreError.inUse) { _ = try await fixture.open() }
            // Deleting also takes a released lease back.
            #expect(await eventually { !session.isLeaseHeld })
            try await session.commitDeletions([0])
            #expect(try TestFiles.list(fixture.root() + "/new") == [])
            await session.close()
        }
    }

    @Test("a session that keeps touching is not taken over")
    func activeSessionKeepsLease() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            // Touching every 250 ms keeps a 2 s lease, if a 250 ms sleep does not take 2 s: scaled
            // for slow builds.
            let fixture = try MaildirFixture(directory: directory, takeoverAfter: TestTimeScale.scaled(.seconds(2)))
            let session = try await fixture.open()
            for _ in 0..<12 {
                try await Task.sleep(for: .milliseconds(250))
                try await session.touch()
                #expect(session.isLeaseHeld)
            }
            await #expect(throws: MailStoreError.inUse) { _ = try await fixture.open() }
            await session.close()
        }
    }

    @Test("another process holding the lock means inUse; its death frees the maildrop")
    func crossProcess() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1000.M1P1.h", "x\n")
            let lockPath = fixture.root() + "/postoffice.lock"
            let readyPath = directory + "/ready"
            // The shell takes the lock with flock(1) on its own descriptor 9, then becomes
            // `sleep` (exec keeps fd 9): killing that one process is the only way to free it.
            let script = "exec 9>>\"$1\" && flock -n 9 && : > \"$2\" && exec sleep 600"
            let pid = try spawn(["/bin/sh", "-c", script, "sh", lockPath, readyPath])
            var reaped = false
            defer {
                if !reaped {
                    kill(pid, SIGKILL)
                    var status: Int32 = 0
                    waitpid(pid, &status, 0)
                }
            }
            #expect(await eventually { TestFiles.exists(readyPath) })

            await #expect(throws: MailStoreError.inUse) { _ = try await fixture.open() }

            #expect(kill(pid, SIGKILL) == 0)
            var status: Int32 = 0
            #expect(waitpid(pid, &status, 0) == pid)
            reaped = true
            let maildrop = try await fixture.open()
            #expect(maildrop.messages.count == 1)
            await maildrop.close()
        }
    }

    private func spawn(_ arguments: [String]) throws -> pid_t {
        var pid: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer {
            for pointer in argv {
                free(pointer)
            }
        }
        let result = posix_spawn(&pid, arguments[0], nil, nil, &argv, environ)
        guard result == 0 else { throw TestFileError(description: "posix_spawn: \(result)") }
        return pid
    }
}
