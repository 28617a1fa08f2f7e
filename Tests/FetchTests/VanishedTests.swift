import Foundation
import MailCore
import Testing

@testable import Fetch

private let t0: Int64 = 1_700_000_000

@Suite("Messages missing from one listing")
struct VanishedTests {
    @Test("keep: a message missing from the listing of a failed run is not downloaded again")
    func failedRunDoesNotMarkVanished() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", sampleMessage(2))])
        let account = makeAccount(directory, policy: FetchPolicy(deletion: .keep))
        _ = await fetchOnce(account, server: server)
        // The server lists a partial maildrop, and the connection drops inside a new message.
        server.add("c", sampleMessage(3))
        server.hide(["a"])
        server.dropConnection(inside: "c")
        let failed = try #require(await fetchOnce(account, server: server, now: t0 + 10).accounts.first)
        #expect(!failed.errors.isEmpty)
        let store = try FetchStateStore(path: account.statePath, account: account.identity)
        #expect(try store.entries()["a"]?.status == .stored)
        server.hide([])
        server.dropConnection(inside: nil)
        let third = try #require(await fetchOnce(account, server: server, now: t0 + 20).accounts.first)
        #expect(third.errors == [])
        #expect(third.downloaded == 1)
        #expect(try maildirMessages(directory.path + "/Maildir").map(\.uid).sorted() == ["a", "b", "c"])
    }

    @Test(
        "keep: a message missing from one complete listing that comes back with its size is the same message",
        arguments: ["maildir", "mbox"]
    )
    func reappearingIsTheSameMessage(kind: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", sampleMessage(2))])
        let target: DeliveryTarget =
            kind == "maildir" ? .maildir(path: directory.path + "/Maildir") : .mbox(path: directory.path + "/inbox")
        let account = makeAccount(directory, target: target, policy: FetchPolicy(deletion: .keep))
        _ = await fetchOnce(account, server: server)
        server.hide(["a"])
        let partial = try #require(await fetchOnce(account, server: server, now: t0 + 10).accounts.first)
        #expect(partial.errors == [])
        let store = try FetchStateStore(path: account.statePath, account: account.identity)
        #expect(try store.entries()["a"]?.status == .goneFromServer)
        server.hide([])
        let again = try #require(await fetchOnce(account, server: server, now: t0 + 20).accounts.first)
        #expect(again.errors == [])
        #expect(again.downloaded == 0)
        #expect(again.skipped == 2)
        #expect(try store.entries()["a"]?.status == .stored)
        let stored =
            kind == "maildir"
            ? try maildirMessages(directory.path + "/Maildir") : try mboxMessages(directory.path + "/inbox")
        #expect(stored.map(\.uid).sorted() == ["a", "b"])
    }

    @Test("a reappearing unique id whose local copy is gone is a new message")
    func reappearingWithoutLocalCopyIsNew() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1))])
        let account = makeAccount(directory, policy: FetchPolicy(deletion: .keep))
        _ = await fetchOnce(account, server: server)
        server.hide(["a"])
        _ = await fetchOnce(account, server: server, now: t0 + 10)
        let root = directory.path + "/Maildir/"
        for message in try maildirMessages(root) {
            try FileManager.default.removeItem(atPath: root + message.name)
        }
        server.hide([])
        let again = try #require(await fetchOnce(account, server: server, now: t0 + 20).accounts.first)
        #expect(again.downloaded == 1)
    }
}
