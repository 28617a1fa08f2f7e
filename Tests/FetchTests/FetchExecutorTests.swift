import FileFormats
import Foundation
import MailCore
import Testing

@testable import Fetch

private let t0: Int64 = 1_700_000_000
private let day: Int64 = 86_400

@Suite("Executor policies and targets")
struct FetchExecutorTests {
    @Test("default policy: everything downloaded once, then deleted; a second run does nothing")
    func deleteAfterDownload() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", sampleMessage(2)), ("c", sampleMessage(3))])
        let account = makeAccount(directory)
        let first = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(first.downloaded == 3)
        #expect(first.deleted == 3)
        #expect(first.bytes == [1, 2, 3].map { sampleMessage($0).utf8.count }.reduce(0, +))
        #expect(server.uids.isEmpty)
        let second = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(second.downloaded == 0 && second.deleted == 0)
        let stored = try maildirMessages(directory.path + "/Maildir")
        #expect(stored.count == 3)
        // Names are <time>.<hash>.<host>,S=<size>,W=<crlf size> in new/.
        for message in stored {
            let file = message.name.dropFirst("new/".count)
            let parts = file.split(separator: ".")
            #expect(parts[0] == "\(t0)")
            #expect(parts[1] == DeliveryKey(account: account.identity, uniqueID: UniqueID(unchecked: message.uid)).hash)
            let attributes = try FileManager.default.attributesOfItem(
                atPath: directory.path + "/Maildir/" + message.name
            )
            let size = try #require(attributes[.size] as? Int)
            #expect(file.contains(",S=\(size),W="))
        }
    }

    @Test(
        "missing parent directories of the state and the target are created",
        arguments: ["maildir", "mbox"]
    )
    func createsParentDirectories(kind: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1))])
        let nested = directory.path + "/share/postoffice"
        var account = makeAccount(
            directory,
            target: kind == "maildir" ? .maildir(path: nested + "/mail") : .mbox(path: nested + "/inbox.mbox")
        )
        account.statePath = directory.path + "/state/postoffice/test.state"
        let report = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(report.errors == [])
        #expect(report.downloaded == 1)
        let stored =
            kind == "maildir" ? try maildirMessages(nested + "/mail") : try mboxMessages(nested + "/inbox.mbox")
        #expect(stored.map(\.uid) == ["a"])
        #expect(FileManager.default.fileExists(atPath: account.statePath))
        let mode =
            try FileManager.default.attributesOfItem(atPath: directory.path + "/state")[.posixPermissions] as? Int
        #expect(mode == 0o700)
    }

    @Test("keep: downloaded once, never deleted, not downloaded again")
    func keep() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1))])
        let account = makeAccount(directory, policy: FetchPolicy(deletion: .keep))
        _ = await fetchOnce(account, server: server)
        server.add("b", sampleMessage(2))
        let second = try #require(await fetchOnce(account, server: server, now: t0 + 1000 * day).accounts.first)
        #expect(second.downloaded == 1)
        #expect(second.skipped == 1)
        #expect(server.uids == ["a", "b"])
        #expect(try maildirMessages(directory.path + "/Maildir").map(\.uid).sorted() == ["a", "b"])
    }

    @Test("keep-days: deleted on the server N days after the first download (injected clock)")
    func keepDays() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1))])
        let account = makeAccount(directory, policy: FetchPolicy(deletion: .keepDays(2)))
        _ = await fetchOnce(account, server: server, now: t0)
        server.add("b", sampleMessage(2))
        _ = await fetchOnce(account, server: server, now: t0 + day)
        #expect(server.uids == ["a", "b"])
        let expired = try #require(await fetchOnce(account, server: server, now: t0 + 2 * day).accounts.first)
        #expect(expired.deleted == 1)
        #expect(server.uids == ["b"])
        _ = await fetchOnce(account, server: server, now: t0 + 3 * day)
        #expect(server.uids.isEmpty)
        #expect(try maildirMessages(directory.path + "/Maildir").count == 2)
    }

    @Test("delete when deleted locally")
    func deletedLocally() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", sampleMessage(2))])
        let account = makeAccount(directory, policy: FetchPolicy(deletion: .deleteWhenDeletedLocally))
        _ = await fetchOnce(account, server: server)
        #expect(server.uids == ["a", "b"])
        // A mail reader moves "a" to cur/ with flags, and the user deletes "b".
        let root = directory.path + "/Maildir"
        let stored = try maildirMessages(root)
        let a = try #require(stored.first { $0.uid == "a" })
        let b = try #require(stored.first { $0.uid == "b" })
        try FileManager.default.moveItem(
            atPath: root + "/" + a.name,
            toPath: root + "/cur/" + a.name.dropFirst("new/".count) + ":2,S"
        )
        try FileManager.default.removeItem(atPath: root + "/" + b.name)
        let report = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(report.deleted == 1)
        #expect(server.uids == ["a"])
    }

    @Test("the server reuses a unique id after we deleted it: the new message is stored too")
    func uniqueIDReuse() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("1", sampleMessage(1))])
        let account = makeAccount(directory)
        _ = await fetchOnce(account, server: server)
        server.add("1", sampleMessage(2))
        let report = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(report.downloaded == 1)
        #expect(report.warnings.count == 1)
        #expect(server.uids.isEmpty)
        let stored = try maildirMessages(directory.path + "/Maildir")
        #expect(stored.map(\.content).sorted() == [localForm(sampleMessage(1)), localForm(sampleMessage(2))])
    }

    @Test("without UIDL, messages are identified by a header digest that is stable across sessions")
    func noUIDL() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("x", sampleMessage(1)), ("y", sampleMessage(2))], supportsUIDL: false)
        let account = makeAccount(directory, policy: FetchPolicy(deletion: .keep))
        let first = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(first.downloaded == 2)
        #expect(first.warnings.contains { $0.contains("UIDL") })
        let second = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(second.downloaded == 0)
        #expect(second.skipped == 2)
        let ids = try FetchStateStore(path: account.statePath, account: account.identity).entries().keys
        #expect(ids.allSatisfy { $0.rawValue.hasPrefix("sha256-") && $0.rawValue.count == 47 })
    }

    @Test("size limit, headers only: header stored and kept on the server; completed when lifted")
    func headersOnly() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let big = sampleMessage(9) + String(repeating: "x", count: 500) + "\r\n"
        let server = FakeMailServer([("small", sampleMessage(1)), ("big", big)])
        var account = makeAccount(
            directory,
            policy: FetchPolicy(deletion: .deleteAfterDownload, sizeLimit: .headersOnly(maximumSize: 200))
        )
        _ = await fetchOnce(account, server: server)
        #expect(server.uids == ["big"])
        var stored = try maildirMessages(directory.path + "/Maildir")
        let header = try #require(stored.first { $0.uid == "big" })
        #expect(header.content == "Subject: message 9\nMessage-ID: <9@example.org>\n\n")
        // Still limited: nothing happens.
        _ = await fetchOnce(account, server: server)
        #expect(server.uids == ["big"])

        account.policy = FetchPolicy()
        _ = await fetchOnce(account, server: server)
        #expect(server.uids.isEmpty)
        stored = try maildirMessages(directory.path + "/Maildir")
        #expect(stored.filter { $0.uid == "big" }.map(\.content) == [localForm(big)])
        #expect(stored.count == 2)
    }

    @Test("size limit, skip: large messages stay on the server untouched")
    func sizeSkip() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("small", "S: 1\r\n\r\nx\r\n"), ("big", sampleMessage(1))])
        let account = makeAccount(directory, policy: FetchPolicy(sizeLimit: .skip(maximumSize: 20)))
        let report = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(report.downloaded == 1 && report.skipped == 1)
        #expect(server.uids == ["big"])
    }

    @Test("mbox target: mboxrd quoting round-trips, separators are right")
    func mbox() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let tricky = "Subject: t\r\n\r\nFrom the start\r\n>From once\r\n>>From twice\r\nno newline at end"
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", tricky)])
        let path = directory.path + "/mbox"
        let account = makeAccount(directory, target: .mbox(path: path))
        let report = await fetchOnce(account, server: server)
        #expect(report.succeeded)
        let raw = try String(contentsOfFile: path, encoding: .utf8)
        #expect(raw.contains("\n>From the start\n>>From once\n>>>From twice\n"))
        #expect(raw.hasPrefix("From MAILER-DAEMON "))
        #expect(raw.hasSuffix("no newline at end\n\n"))
        let stored = try mboxMessages(path)
        #expect(stored.map(\.uid) == ["a", "b"])
        #expect(stored[0].content == localForm(sampleMessage(1)))
        #expect(stored[1].content == localForm(tricky) + "\n")
    }

    @Test("MDA target: success stores and deletes; a failing command keeps the message on the server")
    func mda() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let out = directory.path + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let server = FakeMailServer([
            ("good", sampleMessage(1)), ("bad", sampleMessage(2)), ("good2", sampleMessage(3)),
        ])
        let command = "if [ \"$POSTOFFICE_UIDL\" = bad ]; then exit 3; fi; cat > '\(out)'/\"$POSTOFFICE_UIDL\""
        let account = makeAccount(directory, target: .mda(command: command))
        let report = await fetchOnce(account, server: server)
        let summary = try #require(report.accounts.first)
        #expect(summary.downloaded == 2)
        #expect(summary.errors.map(\.kind) == [.localWrite])
        #expect(summary.errors.first?.uniqueID == "bad")
        #expect(report.exitCode == 74)
        #expect(server.uids == ["bad"])
        let delivered = try String(contentsOfFile: out + "/good", encoding: .utf8)
        #expect(delivered.hasPrefix("Received: from pop.example.org by postoffice (POP3) for <alice>; "))
        #expect(splitTrace(delivered, name: "").content == localForm(sampleMessage(1)))
        let state = try FetchStateStore(path: account.statePath, account: account.identity).entries()
        #expect(state["bad"] == nil)
    }

    @Test("a second run while the first holds the lock fails with 'locked' (exit code 75)")
    func locked() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1))])
        let account = makeAccount(directory)
        var held: AccountLock? = try AccountLock(path: account.statePath + ".lock")
        let report = await fetchOnce(account, server: server)
        #expect(report.accounts.first?.errors.map(\.kind) == [.locked])
        #expect(report.exitCode == 75)
        #expect(server.uids == ["a"])
        #expect(held != nil)
        held = nil
        let after = await fetchOnce(account, server: server)
        #expect(after.succeeded)
    }

    @Test("--mark-seen records what is on the server without downloading or deleting")
    func markSeen() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", sampleMessage(2))])
        let account = makeAccount(directory, policy: FetchPolicy(deletion: .keep))
        let marked = try #require(await fetchOnce(account, server: server, markSeen: true).accounts.first)
        #expect(marked.markedSeen == 2)
        #expect(marked.downloaded == 0)
        server.add("c", sampleMessage(3))
        let report = try #require(await fetchOnce(account, server: server).accounts.first)
        #expect(report.downloaded == 1)
        #expect(try maildirMessages(directory.path + "/Maildir").map(\.uid) == ["c"])
        #expect(server.uids == ["a", "b", "c"])
    }

    @Test("importing a state file makes those messages known")
    func importState() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let file = directory.path + "/fetchids"
        try "alice@pop.example.org a\nbob@pop.example.org b\n".write(toFile: file, atomically: true, encoding: .utf8)
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", sampleMessage(2))])
        let account = makeAccount(directory, policy: FetchPolicy(deletion: .keep))
        let report = try #require(
            await fetchOnce(account, server: server, imports: [StateImport(format: .fetchmail, path: file)]).accounts
                .first
        )
        #expect(report.markedSeen == 1)
        #expect(report.downloaded == 1)
        #expect(try maildirMessages(directory.path + "/Maildir").map(\.uid) == ["b"])
    }

    @Test("a state file of another account is refused")
    func stateOfAnotherAccount() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1))])
        _ = await fetchOnce(makeAccount(directory), server: server)
        var other = makeAccount(directory)
        other.user = "mallory"
        let report = await fetchOnce(other, server: FakeMailServer([]))
        #expect(report.accounts.first?.errors.map(\.kind) == [.configuration])
    }
}
