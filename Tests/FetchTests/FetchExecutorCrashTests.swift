import Foundation
import MailCore
import Testing

@testable import Fetch

/// Invariants 1 and 2: a run stopped at any step boundary, for any message, followed by a clean
/// run, leaves every message stored exactly once locally and (delete policy) none on the server.
@Suite("Executor crash safety")
struct FetchExecutorCrashTests {
    static let messageCount = 4

    enum TargetKind: String, CaseIterable, Sendable {
        case maildir
        case mbox
        case mda

        /// The points a run into this target reaches (only a command has a hand-over).
        var points: [FaultPoint] {
            self == .mda ? FaultPoint.allCases : FaultPoint.allCases.filter { $0 != .handedOver }
        }

        func target(in directory: TemporaryDirectory) -> DeliveryTarget {
            switch self {
            case .maildir: return .maildir(path: directory.path + "/Maildir")
            case .mbox: return .mbox(path: directory.path + "/mbox")
            case .mda:
                try? FileManager.default.createDirectory(
                    atPath: directory.path + "/delivered",
                    withIntermediateDirectories: true
                )
                // One file per delivery, so a duplicate shows as a second file; its name says
                // whether the command was told it may be a duplicate.
                return .mda(
                    command:
                        "cat > '\(directory.path)/delivered/'$(date +%s%N)-$$-dup${POSTOFFICE_POSSIBLE_DUPLICATE:-0}"
                )
            }
        }

        func stored(in directory: TemporaryDirectory) throws -> [(uid: String, content: String, name: String)] {
            switch self {
            case .maildir: return try maildirMessages(directory.path + "/Maildir")
            case .mbox: return try mboxMessages(directory.path + "/mbox")
            case .mda: return try deliveredMessages(directory.path + "/delivered")
            }
        }
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var target: TargetKind
        var point: FaultPoint
        var index: Int
        var testDescription: String { "\(target.rawValue) after-\(point.rawValue):\(index)" }
    }

    static let cases: [Case] = TargetKind.allCases.flatMap { target in
        target.points.flatMap { point in
            (1...(point == .quit ? 1 : messageCount)).map { Case(target: target, point: point, index: $0) }
        }
    }

    @Test("crash at a fault point, then a clean run: each message once, server empty", arguments: cases)
    func crashThenRecover(_ testCase: Case) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let messages = (1...Self.messageCount).map { ("uid-\($0)", sampleMessage($0)) }
        let server = FakeMailServer(messages)
        let account = makeAccount(directory, target: testCase.target.target(in: directory))

        let crashed = await fetchOnce(
            account,
            server: server,
            faults: .inProcess { point, count in
                if point == testCase.point && count == testCase.index {
                    throw InjectedFault(point: point, count: count)
                }
            }
        )
        #expect(!crashed.succeeded)
        if testCase.point == .quit {
            // The server applied the deletions; the state does not know yet.
            #expect(server.uids.isEmpty)
        } else {
            // No QUIT was sent by the crashed run, so the server still has everything.
            #expect(server.uids == messages.map(\.0))
        }

        let clean = await fetchOnce(account, server: server)
        #expect(clean.succeeded, "\(clean.accounts.first?.errors ?? [])")
        #expect(server.uids.isEmpty)

        // A command cannot be asked what it has: killed after it accepted a message and before
        // the state recorded it, the message is delivered once more (and the rerun says so).
        // Killed after the hand-over was recorded but before the command ran, the rerun says
        // it may be a duplicate, though it is not. Files are never stored twice.
        let handedOver = testCase.target == .mda && [.handedOver, .renamed].contains(testCase.point)
        let duplicated = handedOver && testCase.point == .renamed ? "uid-\(testCase.index)" : nil
        #expect(clean.accounts.first?.possibleDuplicates == (handedOver ? 1 : 0))
        let stored = try testCase.target.stored(in: directory)
        if testCase.target == .mda {
            let told = stored.filter { $0.name.hasSuffix("-dup1") }
            #expect(told.map(\.uid) == (handedOver ? ["uid-\(testCase.index)"] : []))
        }
        #expect(Set(stored.map(\.uid)) == Set(messages.map(\.0)))
        for (uid, text) in messages {
            let copies = stored.filter { $0.uid == uid }
            #expect(copies.count == (uid == duplicated ? 2 : 1), "\(uid) stored \(copies.count) times")
            #expect(copies.allSatisfy { $0.content == localForm(text) })
        }
        // The state agrees: everything deleted on the server.
        let state = try FetchStateStore(path: account.statePath, account: account.identity).entries()
        #expect(state.count == Self.messageCount)
        // After a crash right after QUIT the next run finds them gone instead.
        let expected: FetchStateEntry.Status = testCase.point == .quit ? .goneFromServer : .deletedOnServer
        #expect(state.values.allSatisfy { $0.status == expected })
        // No temporary files are left behind in tmp/ after the clean run for Maildir.
        if testCase.target == .maildir {
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path + "/Maildir/tmp")
            #expect(leftovers.count <= 1)
        }
    }

    @Test("a command killed at every point in turn: no loss, at most one duplicate per interrupted run")
    func repeatedCrashesIntoCommand() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let messages = (1...6).map { ("r-\($0)", sampleMessage($0)) }
        let server = FakeMailServer(messages)
        let account = makeAccount(directory, target: TargetKind.mda.target(in: directory))
        var interruptedAfterAcceptance = 0
        for point in FaultPoint.allCases {
            let report = await fetchOnce(
                account,
                server: server,
                faults: .inProcess { reached, count in
                    if reached == point && count == 2 { throw InjectedFault(point: reached, count: count) }
                }
            )
            if !report.succeeded && point == .renamed { interruptedAfterAcceptance += 1 }
        }
        let final = await fetchOnce(account, server: server)
        #expect(final.succeeded)
        #expect(server.uids.isEmpty)
        let stored = try TargetKind.mda.stored(in: directory)
        #expect(Set(stored.map(\.uid)) == Set(messages.map(\.0)))
        #expect(stored.count <= messages.count + interruptedAfterAcceptance)
        // The state keeps no hand-over once everything is recorded.
        let snapshot = try FetchStateStore(path: account.statePath, account: account.identity).snapshot()
        #expect(snapshot.unconfirmedHandOvers.isEmpty)
    }

    @Test("a crash at every point of every message in turn, each followed by a rerun, converges")
    func repeatedCrashes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let messages = (1...6).map { ("r-\($0)", sampleMessage($0)) }
        let server = FakeMailServer(messages)
        let account = makeAccount(directory)
        // Crash at a different point each run until a run completes.
        var runs = 0
        for point in TargetKind.maildir.points {
            runs += 1
            _ = await fetchOnce(
                account,
                server: server,
                faults: .inProcess { reached, count in
                    if reached == point && count == 2 { throw InjectedFault(point: reached, count: count) }
                }
            )
        }
        let final = await fetchOnce(account, server: server)
        #expect(final.succeeded)
        #expect(server.uids.isEmpty)
        let stored = try maildirMessages(directory.path + "/Maildir")
        #expect(stored.map(\.uid).sorted() == messages.map(\.0).sorted())
        #expect(runs == TargetKind.maildir.points.count)
    }

    @Test(
        "a connection lost mid-message leaves no partial file; the next run completes",
        arguments: [TargetKind.maildir, .mbox]
    )
    func connectionLostMidMessage(_ kind: TargetKind) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", sampleMessage(2))])
        server.dropConnection(inside: "b")
        let mbox = directory.path + "/mbox"
        let maildir = directory.path + "/Maildir"
        let account = makeAccount(directory, target: kind == .maildir ? .maildir(path: maildir) : .mbox(path: mbox))
        func stored() throws -> [String] {
            try (kind == .maildir ? maildirMessages(maildir) : mboxMessages(mbox)).map(\.uid)
        }
        func leftovers() throws -> [String] {
            if kind == .maildir { return try FileManager.default.contentsOfDirectory(atPath: maildir + "/tmp") }
            return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
                $0.hasPrefix(".mbox.postoffice-")
            }
        }

        let failed = await fetchOnce(account, server: server)
        #expect(!failed.succeeded)
        #expect(server.uids == ["a", "b"])
        #expect(try stored() == ["a"])
        #expect(try leftovers().isEmpty)

        server.dropConnection(inside: nil)
        let clean = await fetchOnce(account, server: server)
        #expect(clean.succeeded)
        #expect(server.uids.isEmpty)
        #expect(try stored().sorted() == ["a", "b"])
    }

    @Test("a stop request finishes the messages in flight, deletes only what is stored, and quits")
    func stopRequest() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let messages = (1...5).map { ("s-\($0)", sampleMessage($0)) }
        let server = FakeMailServer(messages)
        let account = makeAccount(directory)
        let stop = FetchStopSignal()
        let report = await fetchOnce(
            account,
            server: server,
            faults: .inProcess { point, count in
                if point == .downloaded && count == 1 { stop.requestStop() }
            },
            stop: stop
        )
        // The stop comes while the first window (2 messages) is being stored, as the next is
        // received: that window is finished and deleted, a message received whole by then is
        // stored and deleted too, and nothing more is asked for.
        let summary = try #require(report.accounts.first)
        #expect(summary.interrupted)
        #expect(summary.downloaded >= account.pipelineWindow && summary.downloaded < messages.count)
        #expect(summary.deleted == summary.downloaded)
        let stored = try maildirMessages(directory.path + "/Maildir").map(\.uid).sorted()
        #expect(stored == messages.prefix(summary.downloaded).map(\.0))
        #expect(server.uids == messages.dropFirst(summary.downloaded).map(\.0))
    }

    /// Six messages in windows of two: the worker stores one window while the session receives
    /// the next, and notices a store's fault only once that next window is whole.
    static let windowedMessages = (1...6).map { ("w-\($0)", sampleMessage($0)) }

    @Test(
        "killed inside a window while the next one is received: nothing of the next is kept, a rerun stores each once",
        arguments: [
            // Between the second window's stores and its state commit (its files are visible):
            // the rerun finds them and records them without downloading them again, and
            // downloads the third.
            (FaultPoint.renamed, 3, 2, 2),
            (FaultPoint.renamed, 4, 2, 2),
            // Between the second window's commit and the DELEs: recorded, so only the third
            // window is downloaded again.
            (FaultPoint.recorded, 3, 2, 0),
            // After the last window's commit, before any DELE: nothing is downloaded again.
            (FaultPoint.recorded, 6, 0, 0),
        ]
    )
    func killedInsideAWindow(point: FaultPoint, count: Int, downloaded: Int, recovered: Int) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let messages = Self.windowedMessages
        let server = FakeMailServer(messages)
        let account = makeAccount(directory)
        let crashed = await fetchOnce(
            account,
            server: server,
            faults: .inProcess { reached, reachedCount in
                if reached == point && reachedCount == count {
                    throw InjectedFault(point: reached, count: reachedCount)
                }
            }
        )
        #expect(!crashed.succeeded)
        #expect(server.uids == messages.map(\.0))  // no QUIT: nothing deleted
        // The window after the killed one was received whole before the fault surfaced; none
        // of it reached the disk or the state.
        let window = (count - 1) / account.pipelineWindow
        let keptWindows = messages.prefix((window + 1) * account.pipelineWindow).map(\.0)
        let stored = try maildirMessages(directory.path + "/Maildir").map(\.uid)
        #expect(Set(stored).isSubset(of: Set(keptWindows)))
        let recorded = try FetchStateStore(path: account.statePath, account: account.identity).entries()
        #expect(Set(recorded.keys.map(\.rawValue)).isSubset(of: Set(keptWindows)))
        // Windows before the killed one are recorded; the killed one too once its commit is done.
        let recordedWindows = point == .recorded ? window + 1 : window
        #expect(Set(recorded.keys.map(\.rawValue)) == Set(keptWindows.prefix(recordedWindows * account.pipelineWindow)))

        let clean = await fetchOnce(account, server: server)
        let summary = try #require(clean.accounts.first)
        #expect(clean.succeeded, "\(summary.errors)")
        #expect(summary.recovered == recovered)
        #expect(summary.downloaded == downloaded)
        #expect(summary.deleted == messages.count)
        #expect(server.uids.isEmpty)
        let final = try maildirMessages(directory.path + "/Maildir")
        #expect(final.map(\.uid).sorted() == messages.map(\.0).sorted())
        for (uid, text) in messages {
            #expect(final.filter { $0.uid == uid }.map(\.content) == [localForm(text)])
        }
    }
}
