import Foundation
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
