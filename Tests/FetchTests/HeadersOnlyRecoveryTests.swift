import Foundation
import MailCore
import Testing

@testable import Fetch

@Suite("Recovery of headers-only copies")
struct HeadersOnlyRecoveryTests {
    @Test(
        "a headers-only copy left by a crashed run is not taken for the full message",
        arguments: ["maildir", "mbox"]
    )
    func headersOnlyCopyIsCompleted(kind: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1))])
        let target: DeliveryTarget =
            kind == "maildir" ? .maildir(path: directory.path + "/Maildir") : .mbox(path: directory.path + "/inbox")
        var account = makeAccount(
            directory,
            target: target,
            policy: FetchPolicy(sizeLimit: .headersOnly(maximumSize: 10))
        )
        // The header is stored and made visible, then the run dies before recording it.
        let crashed = await fetchOnce(
            account,
            server: server,
            faults: .inProcess { point, _ in
                if point == .renamed { throw InjectedFault(point: point, count: 1) }
            }
        )
        #expect(!crashed.succeeded)
        // The limit is raised: the next run plans a full download of the same message.
        account.policy = FetchPolicy()
        let report = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(report.errors == [])
        #expect(report.recovered == 0)
        #expect(report.downloaded == 1)
        #expect(server.uids.isEmpty)
        let stored =
            kind == "maildir"
            ? try maildirMessages(directory.path + "/Maildir") : try mboxMessages(directory.path + "/inbox")
        #expect(stored.contains { $0.uid == "a" && $0.content == localForm(sampleMessage(1)) })
        if kind == "maildir" {
            // Maildir replaces the headers-only file.
            #expect(stored.count == 1)
        }
        let store = try FetchStateStore(path: account.statePath, account: account.identity)
        let entry = try #require(try store.entries()["a"])
        #expect(!entry.headersOnly)
    }

    @Test("a full copy left by a crashed run is still recovered, not downloaded again")
    func fullCopyIsRecovered() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1))])
        let account = makeAccount(directory)
        _ = await fetchOnce(
            account,
            server: server,
            faults: .inProcess { point, _ in
                if point == .renamed { throw InjectedFault(point: point, count: 1) }
            }
        )
        let report = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(report.recovered == 1)
        #expect(report.downloaded == 0)
        #expect(server.uids.isEmpty)
    }
}
