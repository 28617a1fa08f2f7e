import Foundation
import MailCore
import MailStore
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import TestTiming
import Testing

@testable import PostgresStore

/// Reads message `index` of `maildrop` whole.
func content(_ maildrop: any Maildrop, at index: Int) async throws -> [UInt8] {
    var bytes: [UInt8] = []
    try await maildrop.readContent(at: index) { chunk in bytes += chunk.readableBytesView }
    return bytes
}

/// One integer from a query returning one row and one column.
func count(_ database: MailDatabase, _ query: PostgresQuery) async throws -> Int {
    try await database.rows(query).first!.decode(Int.self)
}

@Suite("PostgreSQL mail store", .serialized)
struct PostgresMailStoreTests {
    @Test("delivered mail is listed with CRLF sizes and read back in wire form")
    func deliverAndRead() async throws {
        try await TestDatabase.withFresh { database in
            let store = PostgresMailStore(database: database)
            let first = try await store.deliver(user: "alice", message: Array("Subject: one\n\nbody\n".utf8))
            let second = try await store.deliver(user: "alice", message: Array("Subject: two\r\n\r\nno end".utf8))
            #expect(first != second)
            let maildrop = try await store.openMaildrop(user: "alice")
            #expect(maildrop.messages.map(\.uniqueID.rawValue) == [first, second])
            #expect(maildrop.messages.map(\.size) == [22, 24])
            // Each message's arrival, which retention counts from.
            let now = Int(Date().timeIntervalSince1970)
            #expect(maildrop.messages.allSatisfy { abs(($0.arrival ?? 0) - now) < 600 })
            #expect(try await content(maildrop, at: 0) == Array("Subject: one\r\n\r\nbody\r\n".utf8))
            #expect(try await content(maildrop, at: 1) == Array("Subject: two\r\n\r\nno end\r\n".utf8))
            await maildrop.close()
            // UIDLs stay the same in the next session.
            let again = try await store.openMaildrop(user: "alice")
            #expect(again.messages.map(\.uniqueID.rawValue) == [first, second])
            await again.close()
        }
    }

    @Test("a large message is stored and read in pieces, byte for byte")
    func largeMessage() async throws {
        try await TestDatabase.withFresh { database in
            let store = PostgresMailStore(database: database)
            var message = Array("Subject: big\n\n".utf8)
            var generator = SystemRandomNumberGenerator()
            while message.count < 3 * PostgresMailStore.chunkSize + 1234 {
                let length = Int.random(in: 0..<200, using: &generator)
                message += (0..<length).map { _ in UInt8.random(in: 32...126, using: &generator) }
                message.append(UInt8(ascii: "\n"))
            }
            let expected = Array(WireForm.of(message).readableBytesView)
            _ = try await store.deliver(user: "bob", message: message)
            #expect(try await count(database, "SELECT chunk_count FROM messages") == 4)
            let maildrop = try await store.openMaildrop(user: "bob")
            #expect(maildrop.messages.first?.size == expected.count)
            var chunks = 0
            var bytes: [UInt8] = []
            try await maildrop.readContent(at: 0) { chunk in
                chunks += 1
                bytes += chunk.readableBytesView
            }
            #expect(bytes == expected)
            #expect(chunks == 4)
            await maildrop.close()
        }
    }

    @Test("a message for several users is stored once; its body goes with its last entry")
    func storedOnce() async throws {
        try await TestDatabase.withFresh { database in
            let store = PostgresMailStore(database: database)
            let body = Array("Subject: for all\n\nhello\n".utf8)
            // As LMTP delivers it: each recipient's own trace lines on top of the same body.
            for user in ["ann", "ben", "cid"] {
                let message = Array("Return-Path: <s@example.org>\nDelivered-To: \(user)@example.org\n".utf8) + body
                _ = try await store.deliver(user: user, message: message)
            }
            #expect(try await count(database, "SELECT count(*)::bigint FROM messages") == 1)
            #expect(try await count(database, "SELECT refs::bigint FROM messages") == 3)
            #expect(try await count(database, "SELECT count(*)::bigint FROM mailbox_messages") == 3)

            let ben = try await store.openMaildrop(user: "ben")
            let expected =
                "Return-Path: <s@example.org>\r\nDelivered-To: ben@example.org\r\nSubject: for all\r\n\r\nhello\r\n"
            #expect(try await content(ben, at: 0) == Array(expected.utf8))
            #expect(ben.messages.first?.size == expected.utf8.count)
            try await ben.commitDeletions([0])
            await ben.close()
            #expect(try await count(database, "SELECT refs::bigint FROM messages") == 2)

            for user in ["ann", "cid"] {
                let maildrop = try await store.openMaildrop(user: user)
                try await maildrop.commitDeletions([0])
                await maildrop.close()
            }
            #expect(try await count(database, "SELECT count(*)::bigint FROM messages") == 0)
            #expect(try await count(database, "SELECT count(*)::bigint FROM message_chunks") == 0)
        }
    }

    @Test("deletions apply at commit, only to the listed messages; mail that came later stays")
    func commitDeletions() async throws {
        try await TestDatabase.withFresh { database in
            let store = PostgresMailStore(database: database)
            for number in 1...4 {
                _ = try await store.deliver(user: "dee", message: Array("Subject: \(number)\n\nx\n".utf8))
            }
            let maildrop = try await store.openMaildrop(user: "dee")
            let uidls = maildrop.messages.map(\.uniqueID)
            _ = try await store.deliver(user: "dee", message: Array("Subject: late\n\nx\n".utf8))
            try await maildrop.commitDeletions([0, 2, 2])
            await maildrop.close()
            let after = try await store.openMaildrop(user: "dee")
            #expect(after.messages.count == 3)
            #expect(Array(after.messages.map(\.uniqueID).prefix(2)) == [uidls[1], uidls[3]])
            await after.close()
        }
    }

    @Test("a login waits briefly for a lease being given back, as after a QUIT")
    func loginWaitsForARelease() async throws {
        try await TestDatabase.withFresh { database in
            let store = PostgresMailStore(database: database)
            let first = try await store.openMaildrop(user: "kim")
            Task {
                try await Task.sleep(for: .milliseconds(100))
                await first.close()
            }
            let second = try await store.openMaildrop(user: "kim")
            await second.close()
        }
    }

    @Test("a second session on any node is refused while the first is live; close frees the lease")
    func inUseAcrossNodes() async throws {
        try await TestDatabase.withFresh { database in
            let nodeA = PostgresMailStore(database: database, node: "a")
            let nodeB = PostgresMailStore(database: database, node: "b")
            _ = try await nodeA.deliver(user: "eve", message: Array("x\n".utf8))
            let first = try await nodeA.openMaildrop(user: "eve")
            await #expect(throws: MailStoreError.inUse) { _ = try await nodeB.openMaildrop(user: "eve") }
            await #expect(throws: MailStoreError.inUse) { _ = try await nodeA.openMaildrop(user: "eve") }
            let other = try await nodeB.openMaildrop(user: "fay")
            #expect(try await count(database, "SELECT count(*)::bigint FROM mailboxes WHERE lease_node = 'a'") == 1)
            await first.close()
            await first.close()  // idempotent
            let second = try await nodeB.openMaildrop(user: "eve")
            #expect(second.messages.count == 1)
            await second.close()
            await other.close()
        }
    }

    @Test("a silent session is taken over from another node; it then can neither touch, read nor delete")
    func takeover() async throws {
        try await TestDatabase.withFresh { database in
            let (nodeA, nodeB) = twoNodes(database)
            _ = try await nodeA.deliver(user: "gus", message: Array("keep me\n".utf8))
            let old = try await nodeA.openMaildrop(user: "gus")
            await #expect(throws: MailStoreError.inUse) { _ = try await nodeB.openMaildrop(user: "gus") }
            let new = try #require(
                await eventuallyOpen(nodeB, user: "gus"),
                "the lease was not free after the takeover time"
            )
            #expect(new.messages.count == 1)
            await #expect(throws: MailStoreError.takenOver) { try await old.touch() }
            await #expect(throws: MailStoreError.takenOver) { try await old.commitDeletions([0]) }
            await #expect(throws: MailStoreError.takenOver) { try await old.readContent(at: 0) { _ in } }
            #expect(try await count(database, "SELECT count(*)::bigint FROM mailbox_messages") == 1)
            await old.close()  // must not free the new session's lease
            await #expect(throws: MailStoreError.inUse) { _ = try await nodeA.openMaildrop(user: "gus") }
            await new.close()
        }
    }

    @Test("a silent session taken over from another node is told within seconds, once; a closed one is not")
    func takeoverNotice() async throws {
        try await TestDatabase.withFresh { database in
            let (nodeA, nodeB) = twoNodes(database)
            _ = try await nodeA.deliver(user: "ida", message: Array("x\n".utf8))
            _ = try await nodeA.deliver(user: "jon", message: Array("y\n".utf8))
            let notices = NIOLockedValueBox<[String]>([])
            let silent = try await nodeA.openMaildrop(user: "ida")
            silent.whenTakenOver { notices.withLockedValue { $0.append("ida") } }
            let closed = try await nodeA.openMaildrop(user: "jon")
            closed.whenTakenOver { notices.withLockedValue { $0.append("jon") } }
            await closed.close()
            #expect(nodeA.takeovers.watchedCount == 1)

            let newer = try #require(await eventuallyOpen(nodeB, user: "ida"), "no takeover after the lease time")
            let reopened = try #require(await eventuallyOpen(nodeB, user: "jon"))
            let taken = ContinuousClock.now
            // The watch looks every min(takeover_after, 2 s): told within about a second here.
            #expect(await eventually(seconds: 5) { notices.withLockedValue { $0 } == ["ida"] })
            #expect(ContinuousClock.now - taken < .seconds(4))
            await #expect(throws: MailStoreError.takenOver) { try await silent.touch() }
            // Registered after the takeover is known: told at once.
            let late = NIOLockedValueBox(0)
            silent.whenTakenOver { late.withLockedValue { $0 += 1 } }
            #expect(late.withLockedValue { $0 } == 1)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(notices.withLockedValue { $0 } == ["ida"])
            #expect(nodeA.takeovers.watchedCount == 0)
            await silent.close()
            await newer.close()
            await reopened.close()
        }
    }

    @Test("an active session keeps its lease: stamps renew it without a write per command")
    func activeSessionKeepsLease() async throws {
        try await TestDatabase.withFresh { database in
            // Long enough that a stamp delayed by a busy machine still lands in time (the lease
            // runs 1.875 s past each stamp).
            let store = PostgresMailStore(database: database, takeoverAfter: .milliseconds(1500))
            _ = try await store.deliver(user: "hal", message: Array("x\n".utf8))
            let maildrop = try #require(try await store.openMaildrop(user: "hal") as? PostgresMaildrop)
            // 3 s of activity, a command every 25 ms: twice the takeover time.
            let started = ContinuousClock.now
            for _ in 0..<120 {
                try await maildrop.touch()
                try await Task.sleep(for: .milliseconds(25))
            }
            let elapsed = ContinuousClock.now - started
            await #expect(throws: MailStoreError.inUse) { _ = try await store.openMaildrop(user: "hal") }
            // At most one stamp per stamp interval (375 ms), not one per command.
            #expect(maildrop.stampCount <= Int(elapsed / .milliseconds(375)) + 1)
            #expect(maildrop.stampCount >= 5)
            #expect(maildrop.stampCount < 120)
            try await maildrop.commitDeletions([0])
            await maildrop.close()
        }
    }

    @Test("a lease nobody took after it expired is taken back by its session")
    func reacquireExpired() async throws {
        try await TestDatabase.withFresh { database in
            // Longer than the 300 ms a login waits for a lease being released.
            let store = PostgresMailStore(database: database, takeoverAfter: .seconds(1))
            _ = try await store.deliver(user: "ida", message: Array("delete me\n".utf8))
            let maildrop = try await store.openMaildrop(user: "ida")
            try await Task.sleep(for: .milliseconds(1500))
            try await maildrop.touch()
            await #expect(throws: MailStoreError.inUse) { _ = try await store.openMaildrop(user: "ida") }
            try await maildrop.commitDeletions([0])
            await maildrop.close()
            #expect(try await count(database, "SELECT count(*)::bigint FROM mailbox_messages") == 0)
        }
    }

    @Test("STAT, LIST and UIDL come from one index-only scan")
    func listingUsesTheIndex() async throws {
        try await TestDatabase.withFresh { database in
            let store = PostgresMailStore(database: database)
            _ = try await store.deliver(user: "jon", message: Array("x\n".utf8))
            try await database.rows("ANALYZE mailbox_messages")
            try await database.rows("SET enable_seqscan = off")
            var explain = PostgresMailStore.listing(mailboxID: 1)
            explain.sql = "EXPLAIN " + explain.sql
            let plan = try await database.rows(explain).map { try $0.decode(String.self) }.joined(separator: "\n")
            #expect(plan.contains("Index Only Scan using mailbox_messages_listing"), "\(plan)")
        }
    }

    @Test("invalid user names are refused before the database is asked")
    func invalidUser() async throws {
        try await TestDatabase.withFresh { database in
            let store = PostgresMailStore(database: database)
            await #expect(throws: MailStoreError.noSuchUser("../x")) { _ = try await store.openMaildrop(user: "../x") }
            await #expect(throws: MailStoreError.noSuchUser("a/b")) {
                _ = try await store.deliver(user: "a/b", message: [0x78])
            }
        }
    }

    /// Two nodes' stores on one database, with a takeover time of 1 s: longer than the 300 ms
    /// a login waits for a lease being released.
    private func twoNodes(_ database: MailDatabase) -> (PostgresMailStore, PostgresMailStore) {
        (
            PostgresMailStore(database: database, takeoverAfter: .seconds(1), node: "a"),
            PostgresMailStore(database: database, takeoverAfter: .seconds(1), node: "b")
        )
    }

    private func eventuallyOpen(_ store: PostgresMailStore, user: String) async -> (any Maildrop)? {
        for _ in 0..<300 {
            if let maildrop = try? await store.openMaildrop(user: user) { return maildrop }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}
