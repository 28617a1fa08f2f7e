import NIOCore
import POP3Server
import POP3TestSupport
import Testing

/// The examples of RFC 1939 §§4–7 and §10, adapted to our response texts and to
/// ``RFCFixture``'s maildrop, checked byte for byte over loopback.
@Suite("RFC 1939 transcripts")
struct RFC1939TranscriptTests {
    static let login = """
        S: +OK PostOffice POP3 server ready
        C: USER mrose
        S: +OK send PASS
        C: PASS tanstaaf
        S: +OK maildrop has 2 messages (320 octets)
        """

    /// §4: the greeting; QUIT in AUTHORIZATION ends the session without UPDATE.
    @Test func section4GreetingAndQuit() async throws {
        try await TestServer.with(store: RFCFixture.store(), accounts: RFCFixture.accounts) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: QUIT
                S: +OK PostOffice POP3 server signing off
                !close
                """
            )
        }
    }

    /// §5: STAT, LIST, RETR, DELE, NOOP, RSET in TRANSACTION; a QUIT after RSET deletes nothing.
    @Test func section5Transaction() async throws {
        let store = RFCFixture.store()
        try await TestServer.with(store: store, accounts: RFCFixture.accounts) { server in
            try await server.play(
                """
                \(Self.login)
                C: STAT
                S: +OK 2 320
                C: LIST
                S: +OK 2 messages (320 octets)
                S: 1 120
                S: 2 200
                S: .
                C: LIST 2
                S: +OK 2 200
                C: LIST 3
                S: -ERR no such message
                C: RETR 1
                S: +OK 120 octets
                \(RFCFixture.served(RFCFixture.message1))
                C: DELE 1
                S: +OK message 1 deleted
                C: DELE 1
                S: -ERR message 1 already deleted
                C: LIST 1
                S: -ERR message 1 already deleted
                C: STAT
                S: +OK 1 200
                C: NOOP
                S: +OK
                C: RSET
                S: +OK maildrop has 2 messages (320 octets)
                C: QUIT
                S: +OK PostOffice POP3 server signing off (2 messages left)
                !close
                """
            )
        }
        #expect(store.uniqueIDs(user: "mrose") == [RFCFixture.firstUID, RFCFixture.secondUID])
    }

    /// §6: QUIT in TRANSACTION enters UPDATE and removes the messages marked deleted.
    @Test(arguments: [
        (["DELE 1", "DELE 2"], "maildrop empty", [String]()),
        (["DELE 1"], "1 messages left", [RFCFixture.secondUID]),
        ([], "2 messages left", [RFCFixture.firstUID, RFCFixture.secondUID]),
    ])
    func section6Update(deletions: [String], left: String, remaining: [String]) async throws {
        let store = RFCFixture.store()
        try await TestServer.with(store: store, accounts: RFCFixture.accounts) { server in
            let deleting = deletions.map { command in
                "C: \(command)\nS: +OK message \(command.dropFirst(5)) deleted"
            }
            try await server.play(
                """
                \(Self.login)
                \(deleting.joined(separator: "\n"))
                C: QUIT
                S: +OK PostOffice POP3 server signing off (\(left))
                !close
                """
            )
        }
        #expect(store.uniqueIDs(user: "mrose") == remaining)
        #expect(!store.isLocked(user: "mrose"))
    }

    /// §7: TOP and UIDL.
    @Test func section7TopAndUIDL() async throws {
        try await TestServer.with(store: RFCFixture.store(), accounts: RFCFixture.accounts) { server in
            let headers = RFCFixture.message1.prefix(3)
            let body = RFCFixture.message1.dropFirst(3)
            try await server.play(
                """
                \(Self.login)
                C: TOP 1 10
                S: +OK top of message follows
                \(RFCFixture.served(headers + body.prefix(10)))
                C: TOP 1 0
                S: +OK top of message follows
                \(RFCFixture.served(headers))
                C: TOP 1 100
                S: +OK top of message follows
                \(RFCFixture.served(RFCFixture.message1))
                C: TOP 100 3
                S: -ERR no such message
                C: UIDL
                S: +OK unique-id listing follows
                S: 1 whqtswO00WBw418f9t5JxYwZ
                S: 2 QhdPYR:00WBw1Ph7x7
                S: .
                C: UIDL 2
                S: +OK 2 QhdPYR:00WBw1Ph7x7
                C: UIDL 3
                S: -ERR no such message
                C: DELE 1
                S: +OK message 1 deleted
                C: UIDL
                S: +OK unique-id listing follows
                S: 2 QhdPYR:00WBw1Ph7x7
                S: .
                C: QUIT
                S: +OK PostOffice POP3 server signing off (1 messages left)
                !close
                """
            )
        }
    }

    /// §7: USER and PASS. Unlike the RFC's example, USER never says whether a mailbox
    /// exists (RFC 1939 §13); the failure comes with PASS, as `[AUTH]` (RFC 3206).
    @Test func section7UserAndPass() async throws {
        try await TestServer.with(store: RFCFixture.store(), accounts: RFCFixture.accounts) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: USER nobody
                S: +OK send PASS
                C: PASS secret
                S: -ERR [AUTH] authentication failed
                C: USER mrose
                S: +OK send PASS
                C: PASS tanstaaf
                S: +OK maildrop has 2 messages (320 octets)
                C: QUIT
                S: +OK PostOffice POP3 server signing off (2 messages left)
                !close
                """
            )
        }
    }

    /// §7: PASS while another session holds the maildrop, then again after it has gone.
    @Test func section7PassWhileLocked() async throws {
        try await TestServer.with(store: RFCFixture.store(), accounts: RFCFixture.accounts) { server in
            try await server.loggedIn(user: "mrose", password: "tanstaaf") { holder async throws in
                try await server.play(
                    """
                    S: +OK PostOffice POP3 server ready
                    C: USER mrose
                    S: +OK send PASS
                    C: PASS tanstaaf
                    S: -ERR [IN-USE] maildrop already locked by another session
                    C: QUIT
                    S: +OK PostOffice POP3 server signing off
                    !close
                    """
                )
                #expect(try await holder.command("QUIT").hasPrefix("+OK"))
            }
            try await server.play(Self.login)
        }
    }

    /// §7: APOP. The timestamp is `<process-ID.clock@hostname>`; the digest is
    /// MD5(timestamp ‖ secret).
    @Test func section7APOP() async throws {
        try await TestServer.with(
            store: RFCFixture.store(),
            accounts: RFCFixture.accounts,
            configure: { $0.apop = true }
        ) { server in
            let captured = try await server.play(
                """
                S: +OK PostOffice POP3 server ready <{{pid}}.{{clock}}@localhost>
                C: APOP mrose {{digest}}
                S: +OK maildrop has 2 messages (320 octets)
                """,
                substitutions: [
                    "digest": { captures in
                        APOPDigest.hex(
                            timestamp: "<\(captures["pid"] ?? "").\(captures["clock"] ?? "")@localhost>",
                            secret: "tanstaaf"
                        )
                    }
                ]
            )
            #expect(captured["pid"].flatMap { Int32($0) } != nil)
            #expect(captured["clock"].flatMap { UInt64($0) } != nil)
        }
    }

    /// §10: the example POP3 session, with APOP.
    @Test func section10ExampleSession() async throws {
        let store = RFCFixture.store()
        try await TestServer.with(store: store, accounts: RFCFixture.accounts, configure: { $0.apop = true }) {
            server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready {{timestamp}}
                C: APOP mrose {{digest}}
                S: +OK maildrop has 2 messages (320 octets)
                C: STAT
                S: +OK 2 320
                C: LIST
                S: +OK 2 messages (320 octets)
                S: 1 120
                S: 2 200
                S: .
                C: RETR 1
                S: +OK 120 octets
                \(RFCFixture.served(RFCFixture.message1))
                C: DELE 1
                S: +OK message 1 deleted
                C: RETR 2
                S: +OK 200 octets
                \(RFCFixture.served(RFCFixture.message2))
                C: DELE 2
                S: +OK message 2 deleted
                C: QUIT
                S: +OK PostOffice POP3 server signing off (maildrop empty)
                !close
                """,
                substitutions: [
                    "digest": { APOPDigest.hex(timestamp: $0["timestamp"] ?? "", secret: "tanstaaf") }
                ]
            )
        }
        #expect(store.uniqueIDs(user: "mrose").isEmpty)
    }

    /// The runner itself: a wrong expectation fails with the transcript line that differs.
    @Test func runnerReportsTheFirstDifference() async throws {
        try await TestServer.with(store: RFCFixture.store(), accounts: RFCFixture.accounts) { server in
            let error = await #expect(throws: TranscriptMismatch.self) {
                try await server.play(
                    """
                    S: +OK PostOffice POP3 server ready
                    C: NOOP
                    S: +OK
                    """
                )
            }
            #expect(error?.line == 3)
            #expect(error?.received == "-ERR not authenticated␍␊")
            await #expect(throws: TranscriptMismatch.self) {
                try await server.play("S: +OK PostOffice POP3 server ready\n!close", deadline: .seconds(1))
            }
        }
    }
}
