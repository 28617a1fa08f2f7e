import MailCore
import MailStore
import NIOCore
import POP3Core
import POP3Server
import POP3TestSupport
import Testing

/// A store whose every operation fails the way a broken disk or database would.
struct FailingMailStore: MailStore {
    var openError: MailStoreError

    func openMaildrop(user: String) async throws -> any Maildrop { throw openError }
    func deliver(user: String, message: [UInt8]) async throws -> String { throw openError }
}

/// RFC 3206 and RFC 2449 §8.1.1 response codes for failures behind the protocol: the
/// account database, the store, the maildrop lock.
@Suite("Store and account failures")
struct StoreAndAccountFailureTests {
    /// The store cannot open the maildrop (`.io`): `[SYS/TEMP]`, and the session stays in
    /// AUTHORIZATION so the client may try again.
    @Test(arguments: ["USER", "PLAIN"])
    func storeIOFailureIsSysTemp(mechanism: String) async throws {
        let store = FailingMailStore(openError: .io("disk on fire"))
        try await TestServer.with(store: TestMailStore(), configure: { $0.mailStore = store }) { server in
            let login =
                mechanism == "USER"
                ? "C: USER alice\nS: +OK send PASS\nC: PASS secret"
                : "C: AUTH PLAIN \(Base64.encode(Array("\0alice\0secret".utf8)))"
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                \(login)
                S: -ERR [SYS/TEMP] maildrop temporarily unavailable
                C: NOOP
                S: -ERR not authenticated
                C: QUIT
                S: +OK PostOffice POP3 server signing off
                !close
                """
            )
            #expect(
                server.log.lines.contains { $0.contains("maildrop not opened user=alice") && $0.hasSuffix("reason=io") }
            )
            #expect(!server.log.lines.contains { $0.contains("secret") }, "no password in the log")
        }
    }

    /// A store error that is the account's, not the moment's: `[SYS/PERM]`.
    @Test func noSuchUserInStoreIsSysPerm() async throws {
        let store = TestMailStore()
        store.failOpen(user: "alice", with: .noSuchUser("alice"))
        try await TestServer.with(store: store) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: USER alice
                S: +OK send PASS
                C: PASS secret
                S: -ERR [SYS/PERM] maildrop unavailable
                """
            )
        }
    }

    /// A message the store can no longer read (another program removed or truncated its file):
    /// RETR and TOP get `-ERR` before any byte of a body, and the session goes on.
    @Test func unreadableMessageIsErrAndTheSessionGoesOn() async throws {
        let store = TestMailStore()
        let gone = store.add(user: "alice", message: "Subject: gone\n\nbody\n")
        store.add(user: "alice", message: "Subject: kept\n\nbody\n")
        store.failReads(uniqueID: gone, with: .io("message 1 no longer exists"))
        try await TestServer.with(store: store) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS secret").hasPrefix("+OK"))
                let err = "-ERR message 1 cannot be read: removed or changed since the session began"
                #expect(try await client.command("RETR 1") == err)
                #expect(try await client.command("TOP 1 0") == err)
                #expect(try await client.command("NOOP") == "+OK")
                #expect(try await client.command("RETR 2").hasPrefix("+OK"))
                #expect(try await client.multiLineBody() == ["Subject: kept", "", "body"])
                #expect(try await client.command("STAT") == "+OK 2 46")
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
        }
    }

    /// The store reports the maildrop locked: `[IN-USE]`; once released, the login works.
    @Test func inUseFromTheStore() async throws {
        let store = TestMailStore()
        store.failOpen(user: "alice", with: .inUse)
        try await TestServer.with(store: store) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                #expect(try await client.command("USER alice") == "+OK send PASS")
                #expect(
                    try await client.command("PASS secret")
                        == "-ERR [IN-USE] maildrop already locked by another session"
                )
                store.failOpen(user: "alice", with: nil)
                #expect(try await client.command("USER alice") == "+OK send PASS")
                #expect(try await client.command("PASS secret") == "+OK maildrop has 0 messages (0 octets)")
            }
        }
    }

    /// The account database fails (`.temporaryFailure`): `[SYS/TEMP]` for USER/PASS and for
    /// SASL, not counted as a failed login (three of them do not close the connection).
    @Test func accountProviderTemporaryFailureIsSysTemp() async throws {
        let accounts = InMemoryAccounts(["alice": "secret", "carol": "pw"], broken: ["carol"])
        try await TestServer.with(accounts: accounts) { server in
            let plain = Base64.encode(Array("\0carol\0pw".utf8))
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: USER carol
                S: +OK send PASS
                C: PASS pw
                S: -ERR [SYS/TEMP] authentication temporarily unavailable
                C: AUTH PLAIN \(plain)
                S: -ERR [SYS/TEMP] authentication temporarily unavailable
                C: AUTH LOGIN
                S: + VXNlcm5hbWU6
                C: \(Base64.encode(Array("carol".utf8)))
                S: + UGFzc3dvcmQ6
                C: \(Base64.encode(Array("pw".utf8)))
                S: -ERR [SYS/TEMP] authentication temporarily unavailable
                C: USER alice
                S: +OK send PASS
                C: PASS secret
                S: +OK maildrop has 0 messages (0 octets)
                """
            )
            #expect(server.log.lines.filter { $0.hasSuffix("reason=temporary-failure") }.count == 3)
        }
    }

    /// UPDATE fails to remove the messages: `-ERR [SYS/TEMP]` (RFC 1939 §6 "some deleted
    /// messages not removed"), and the connection closes.
    @Test func failedDeletionIsSysTemp() async throws {
        let store = TestMailStore()
        store.add(user: "alice", message: "x\n", uniqueID: "u1")
        try await TestServer.with(store: store) { server in
            try await server.loggedIn { client async throws in
                #expect(try await client.command("DELE 1") == "+OK message 1 deleted")
                store.failCommits(user: "alice", with: .io("read-only file system"))
                #expect(try await client.command("QUIT") == "-ERR [SYS/TEMP] some deleted messages not removed")
                #expect(try await client.readLine() == nil)
            }
        }
        #expect(store.uniqueIDs(user: "alice") == ["u1"])
    }
}
