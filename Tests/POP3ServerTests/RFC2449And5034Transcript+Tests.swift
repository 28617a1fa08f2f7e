import Accounts
import MailCore
import POP3Core
import POP3Server
import POP3TestSupport
import SASL
import Testing

/// A client mechanism shared by the substitutions of one transcript.
final class SASLClientBox {
    var mechanism: any SASLClientMechanism

    init(_ name: SASLMechanismName, user: String, password: String) throws {
        self.mechanism = try #require(makeSASLClientMechanism(name, user: user, secret: password))
    }

    /// The client's answer to the base64 challenge captured as `challenge`, base64-encoded.
    func answer(_ captures: [String: String], challenge: String) throws -> String {
        let bytes = try #require(Base64.decode(bytes: Array((captures[challenge] ?? "").utf8)))
        return Base64.encode(try mechanism.respond(to: bytes))
    }
}

/// RFC 2449 §§5–6 (CAPA and the capabilities it lists) and RFC 5034 §6 (AUTH), adapted to
/// our capabilities and checked byte for byte over loopback.
@Suite("RFC 2449 and RFC 5034 transcripts")
struct RFC2449And5034TranscriptTests {
    /// RFC 2449 §5: CAPA in AUTHORIZATION lists what is usable now, LOGIN-DELAY (§6.5) and
    /// EXPIRE (§6.7) as configured; in TRANSACTION the login capabilities are gone.
    @Test func rfc2449Section5CapaInBothStates() async throws {
        try await TestServer.with(
            store: RFCFixture.store(),
            accounts: RFCFixture.accounts,
            configure: {
                $0.loginDelaySeconds = 900
                $0.expiry = .days(60)
            }
        ) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: CAPA
                S: +OK Capability list follows
                S: TOP
                S: UIDL
                S: USER
                S: SASL PLAIN LOGIN SCRAM-SHA-256
                S: PIPELINING
                S: RESP-CODES
                S: AUTH-RESP-CODE
                S: LOGIN-DELAY 900
                S: EXPIRE 60
                S: IMPLEMENTATION PostOffice
                S: .
                C: USER mrose
                S: +OK send PASS
                C: PASS tanstaaf
                S: +OK maildrop has 2 messages (320 octets)
                C: CAPA
                S: +OK Capability list follows
                S: TOP
                S: UIDL
                S: PIPELINING
                S: RESP-CODES
                S: AUTH-RESP-CODE
                S: LOGIN-DELAY 900
                S: EXPIRE 60
                S: IMPLEMENTATION PostOffice
                S: .
                """
            )
        }
    }

    /// RFC 2449 §6.7: `EXPIRE NEVER`; nothing else optional configured.
    @Test func rfc2449Section6ExpireNever() async throws {
        try await TestServer.with(configure: { $0.expiry = .never }) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: CAPA
                S: +OK Capability list follows
                S: TOP
                S: UIDL
                S: USER
                S: SASL PLAIN LOGIN SCRAM-SHA-256
                S: PIPELINING
                S: RESP-CODES
                S: AUTH-RESP-CODE
                S: EXPIRE NEVER
                S: IMPLEMENTATION PostOffice
                S: .
                """
            )
        }
    }

    /// RFC 2449 §6.6 PIPELINING: a batch of commands in one write is answered in order.
    @Test func rfc2449Section6Pipelining() async throws {
        try await TestServer.with(store: RFCFixture.store(), accounts: RFCFixture.accounts) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: USER mrose
                C: PASS tanstaaf
                C: STAT
                C: LIST 2
                C: UIDL 1
                C: QUIT
                S: +OK send PASS
                S: +OK maildrop has 2 messages (320 octets)
                S: +OK 2 320
                S: +OK 2 200
                S: +OK 1 whqtswO00WBw418f9t5JxYwZ
                S: +OK PostOffice POP3 server signing off (2 messages left)
                !close
                """
            )
        }
    }

    /// RFC 2449 §8.1.1: `[IN-USE]`, here for APOP as in the RFC's example.
    @Test func rfc2449InUseWithAPOP() async throws {
        try await TestServer.with(
            store: RFCFixture.store(),
            accounts: RFCFixture.accounts,
            configure: { $0.apop = true }
        ) { server in
            try await server.loggedIn(user: "mrose", password: "tanstaaf") { _ async throws in
                try await server.play(
                    """
                    S: +OK PostOffice POP3 server ready {{timestamp}}
                    C: APOP mrose {{digest}}
                    S: -ERR [IN-USE] maildrop already locked by another session
                    """,
                    substitutions: [
                        "digest": { APOPDigest.hex(timestamp: $0["timestamp"] ?? "", secret: "tanstaaf") }
                    ]
                )
            }
        }
    }

    /// RFC 5034 §6, first example: CAPA offers no cleartext mechanism before TLS; after STLS
    /// it does, and `AUTH PLAIN` with an initial response logs in.
    @Test func rfc5034Section6PlainAfterSTLS() async throws {
        try await TestServer.with(
            accounts: RFCFixture.accounts,
            tls: true,
            configure: { $0.cleartextAllowedOnLoopback = false }
        ) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: CAPA
                S: +OK Capability list follows
                S: TOP
                S: UIDL
                S: SASL SCRAM-SHA-256
                S: STLS
                S: PIPELINING
                S: RESP-CODES
                S: AUTH-RESP-CODE
                S: IMPLEMENTATION PostOffice
                S: .
                C: AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=
                S: -ERR [AUTH] clear text authentication requires TLS, use STLS
                C: STLS
                S: +OK Begin TLS negotiation
                !starttls
                C: CAPA
                S: +OK Capability list follows
                S: TOP
                S: UIDL
                S: USER
                S: SASL PLAIN LOGIN SCRAM-SHA-256
                S: PIPELINING
                S: RESP-CODES
                S: AUTH-RESP-CODE
                S: IMPLEMENTATION PostOffice
                S: .
                C: AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=
                S: +OK maildrop has 0 messages (0 octets)
                C: QUIT
                S: +OK PostOffice POP3 server signing off (maildrop empty)
                !close
                """
            )
        }
    }

    /// RFC 5034 §6, second example: no initial response, so an empty challenge (`+` and a
    /// space); then a cancelled exchange (RFC 5034 §4) and a wrong password.
    @Test func rfc5034Section6PlainWithEmptyChallenge() async throws {
        try await TestServer.with(accounts: RFCFixture.accounts) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: AUTH PLAIN
                S: +␠
                C: *
                S: -ERR authentication cancelled
                C: AUTH PLAIN
                S: +␠
                C: dGVzdAB0ZXN0AHdyb25n
                S: -ERR [AUTH] authentication failed
                C: AUTH PLAIN
                S: +␠
                C: dGVzdAB0ZXN0AHRlc3Q=
                S: +OK maildrop has 0 messages (0 octets)
                """
            )
        }
    }

    /// RFC 5034 §6, third example (a mechanism with server challenges): DIGEST-MD5 is not
    /// ours, so SCRAM-SHA-256 stands in, its client side played by the SASL module.
    @Test func rfc5034Section6ChallengeResponseWithSCRAM() async throws {
        try await TestServer.with(accounts: RFCFixture.accounts) { server in
            let client = try SASLClientBox(.scramSHA256, user: "test", password: "test")
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: AUTH DIGEST-MD5
                S: -ERR unsupported SASL mechanism
                C: AUTH SCRAM-SHA-256
                S: +␠
                C: {{client-first}}
                S: + {{server-first}}
                C: {{client-final}}
                S: + {{server-final}}
                C: {{acknowledgement}}
                S: +OK maildrop has 0 messages (0 octets)
                """,
                substitutions: [
                    "client-first": { _ in Base64.encode(try client.mechanism.respond(to: [])) },
                    "client-final": { try client.answer($0, challenge: "server-first") },
                    "acknowledgement": { try client.answer($0, challenge: "server-final") },
                ]
            )
            try client.mechanism.verifyCompletion()
        }
    }
}
