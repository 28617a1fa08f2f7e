import Foundation
import MailCore
import Testing

@testable import Fetch

@Suite("Bodies that do not match the LIST size")
struct ListedSizeTests {
    @Test(
        "a body clearly shorter than its LIST size is stored but not deleted, with a warning",
        arguments: [200, 5_000, 2_000_000]
    )
    func shortBodyIsNotDeleted(listed: Int) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", sampleMessage(2))])
        server.list("a", asSize: listed)
        let account = makeAccount(directory)
        let report = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(report.errors == [])
        #expect(report.downloaded == 2)
        #expect(report.deleted == 1)
        #expect(server.uids == ["a"])
        #expect(report.warnings.contains { $0.contains("shorter than") })
        #expect(try maildirMessages(directory.path + "/Maildir").map(\.uid).sorted() == ["a", "b"])
    }

    /// The loss this guards against: the second run saw the short copy recorded as stored
    /// and, deleting after download, deleted the server's whole message.
    @Test("a server that keeps cutting a message short never gets it deleted; once whole, it replaces the copy")
    func serverThatKeepsCuttingShort() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let long = OversizedBodyTests.bigMessage(lines: 20)  // about 20 KB
        let server = FakeMailServer([("a", long), ("b", sampleMessage(2))])
        server.cut("a", at: 2_000)
        let account = makeAccount(directory)
        let root = directory.path + "/Maildir"

        for run in 1...3 {
            let report = try #require(await fetchOnce(account, server: server).accounts.first)
            #expect(report.errors == [])
            #expect(report.downloaded == (run == 1 ? 2 : 1), "run \(run)")
            #expect(report.shortCopies == 1, "run \(run)")
            #expect(report.warnings.contains { $0.contains("shorter than") }, "run \(run)")
            #expect(server.uids == ["a"], "run \(run): the cut message stays on the server")
            // One copy of it, replaced each time under the same derived name.
            let copies = try maildirMessages(root).filter { $0.uid == "a" }
            #expect(copies.count == 1, "run \(run)")
            let entry = try FetchStateStore(path: account.statePath, account: account.identity).entry(for: "a")
            #expect(entry?.shortCopy == true)
        }

        server.cut("a", at: nil)
        let whole = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(whole.errors == [])
        #expect(whole.downloaded == 1)
        #expect(whole.shortCopies == 0)
        #expect(whole.deleted == 1)
        #expect(whole.warnings.contains { $0.contains("replaced") })
        #expect(server.uids.isEmpty)
        let copies = try maildirMessages(root).filter { $0.uid == "a" }
        #expect(copies.map(\.content) == [localForm(long)])
        let entry = try FetchStateStore(path: account.statePath, account: account.identity).entry(for: "a")
        #expect(entry?.shortCopy == false)
        #expect(entry?.status == .deletedOnServer)
    }

    @Test("with --keep a short copy is downloaded again too, and replaced once whole")
    func shortCopyWithKeep() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let long = OversizedBodyTests.bigMessage(lines: 20)
        let server = FakeMailServer([("a", long)])
        server.cut("a", at: 2_000)
        let account = makeAccount(directory, policy: FetchPolicy(deletion: .keep))
        _ = await fetchOnce(account, server: server)
        server.cut("a", at: nil)
        let second = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(second.downloaded == 1)
        let third = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(third.downloaded == 0)
        #expect(server.uids == ["a"])
        #expect(try maildirMessages(directory.path + "/Maildir").map(\.content) == [localForm(long)])
    }

    @Test("mbox: a short copy cannot be rewritten; the whole one is appended, and the report says so")
    func shortCopyIntoMbox() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let long = OversizedBodyTests.bigMessage(lines: 20)
        let server = FakeMailServer([("a", long)])
        server.cut("a", at: 2_000)
        let mbox = directory.path + "/mbox"
        let account = makeAccount(directory, target: .mbox(path: mbox))
        let first = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(first.shortCopies == 1)
        #expect(server.uids == ["a"])
        server.cut("a", at: nil)
        let second = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(second.deleted == 1)
        #expect(second.warnings.contains { $0.contains("short copy stays") })
        #expect(server.uids.isEmpty)
        let entries = try mboxMessages(mbox)
        #expect(entries.count == 2)
        #expect(entries.last?.content == localForm(long))
    }

    @Test("a body a few octets off its LIST size is deleted as usual")
    func nearlyExactSizeIsDeleted() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1))])
        // Some servers count dot-stuffed lines; a couple of octets is not a truncation.
        server.list("a", asSize: sampleMessage(1).utf8.count + 1)
        let report = try #require(await fetchOnce(account(directory), server: server).accounts.first)
        #expect(report.deleted == 1)
        #expect(report.warnings.isEmpty)
        #expect(server.uids.isEmpty)
    }

    private func account(_ directory: TemporaryDirectory) -> FetchAccount {
        makeAccount(directory)
    }
}

@Suite("Bodies far larger than the LIST size")
struct OversizedBodyTests {
    static func bigMessage(lines: Int) -> String {
        "Subject: big\r\n\r\n" + String(repeating: String(repeating: "x", count: 1022) + "\r\n", count: lines)
    }

    @Test("a body far beyond its LIST size aborts the session: nothing partial kept, nothing deleted")
    func oversizedBodyAborts() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let big = Self.bigMessage(lines: 2_100)  // about 2 MiB
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", big), ("c", sampleMessage(3))])
        server.list("b", asSize: 100)
        let account = makeAccount(directory)
        let report = try #require(await fetchBigChunks(account, server: server).accounts.first)
        let failure = try #require(report.errors.first)
        #expect(failure.kind == .network)
        #expect(failure.uniqueID == "b")
        #expect(failure.message.contains("protocol violation"))
        #expect(server.uids == ["a", "b", "c"])
        let root = directory.path + "/Maildir"
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty)
        #expect(try maildirMessages(root).map(\.uid) == ["a"])
    }

    @Test("a body within twice its LIST size plus slack is accepted", arguments: [0, 400_000])
    func moderatelyLargerBodyIsAccepted(listed: Int) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        // About 800 KiB: below the 1 MiB floor, and below 2 × 400 000 + 64 KiB.
        let server = FakeMailServer([("a", Self.bigMessage(lines: 800))])
        server.list("a", asSize: listed)
        let report = try #require(await fetchBigChunks(makeAccount(directory), server: server).accounts.first)
        #expect(report.errors == [])
        #expect(report.downloaded == 1)
    }

    private func fetchBigChunks(_ account: FetchAccount, server: FakeMailServer) async -> FetchReport {
        let options = FetchOptions(
            clock: .fixed(1_700_000_000),
            connector: { _ in FakeConnector(server: server, chunkSize: 16 * 1024) }
        )
        return await runFetch(accounts: [account], options: options, logger: testLogger)
    }
}
