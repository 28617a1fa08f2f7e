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
