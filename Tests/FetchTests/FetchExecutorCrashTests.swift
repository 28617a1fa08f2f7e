import Foundation
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
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var target: TargetKind
        var point: FaultPoint
        var index: Int
        var testDescription: String { "\(target.rawValue) after-\(point.rawValue):\(index)" }
    }

    static let cases: [Case] = TargetKind.allCases.flatMap { target in
        FaultPoint.allCases.flatMap { point in
            (1...(point == .quit ? 1 : messageCount)).map { Case(target: target, point: point, index: $0) }
        }
    }

    @Test("crash at a fault point, then a clean run: each message once, server empty", arguments: cases)
    func crashThenRecover(_ testCase: Case) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let messages = (1...Self.messageCount).map { ("uid-\($0)", sampleMessage($0)) }
        let server = FakeMailServer(messages)
        let target: DeliveryTarget =
            testCase.target == .maildir
            ? .maildir(path: directory.path + "/Maildir") : .mbox(path: directory.path + "/mbox")
        let account = makeAccount(directory, target: target)

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

        let stored =
            testCase.target == .maildir
            ? try maildirMessages(directory.path + "/Maildir") : try mboxMessages(directory.path + "/mbox")
        #expect(stored.map(\.uid).sorted() == messages.map(\.0).sorted())
        for (uid, text) in messages {
            let copies = stored.filter { $0.uid == uid }
            #expect(copies.count == 1, "\(uid) stored \(copies.count) times")
            #expect(copies.first?.content == localForm(text))
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

    @Test("a crash at every point of every message in turn, each followed by a rerun, converges")
    func repeatedCrashes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let messages = (1...6).map { ("r-\($0)", sampleMessage($0)) }
        let server = FakeMailServer(messages)
        let account = makeAccount(directory)
        // Crash at a different point each run until a run completes.
        var runs = 0
        for point in FaultPoint.allCases {
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
        #expect(runs == FaultPoint.allCases.count)
    }

    @Test(
        "a connection lost mid-message leaves no partial file; the next run completes",
        arguments: TargetKind.allCases
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

    @Test("a stop request finishes the message in flight, deletes only what is stored, and quits")
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
        let summary = try #require(report.accounts.first)
        #expect(summary.interrupted)
        #expect(summary.downloaded == 1)
        #expect(summary.deleted == 1)
        #expect(server.uids == ["s-2", "s-3", "s-4", "s-5"])
        #expect(try maildirMessages(directory.path + "/Maildir").map(\.uid) == ["s-1"])
    }
}
