import MailCore
import POP3Core
import POP3Server
import POP3TestSupport
import SASL
import Testing

extension POP3LineClient {
    /// Runs `AUTH` (RFC 5034 §4) with a client mechanism of the SASL module: answers each
    /// `+ challenge`, returns the final `+OK`/`-ERR` line and the mechanism.
    func authenticate(
        _ name: SASLMechanismName,
        user: String,
        password: String,
        sendInitialResponse: Bool
    ) async throws -> (line: String, mechanism: any SASLClientMechanism) {
        var mechanism = try #require(makeSASLClientMechanism(name, user: user, secret: password))
        var command = "AUTH \(name.rawValue)"
        if sendInitialResponse, let initial = try mechanism.initialResponse() {
            command += " " + (initial.isEmpty ? "=" : Base64.encode(initial))
        }
        var line = try await self.command(command)
        for _ in 0..<10 {
            guard line.hasPrefix("+ ") else { return (line, mechanism) }
            let challenge = try #require(Base64.decode(bytes: Array(line.utf8.dropFirst(2))))
            line = try await self.command(Base64.encode(try mechanism.respond(to: challenge)))
        }
        Issue.record("the SASL exchange did not end within 10 challenges")
        return (line, mechanism)
    }
}

/// The SASL module's real mechanisms (`makeSASLServerMechanism`) behind AUTH, over loopback,
/// each driven from the client side by the module's client mechanisms.
@Suite("SASL mechanisms over loopback")
struct SASLMechanismTests {
    static let accounts = InMemoryAccounts(["alice": "secret", "bob": "pässwörd"])

    @Test(arguments: [SASLMechanismName.plain, .login, .scramSHA256], [false, true])
    func fullExchangeLogsIn(mechanism: SASLMechanismName, initialResponse: Bool) async throws {
        let store = TestMailStore()
        store.add(user: "bob", message: "Subject: hi\n\nhello\n")
        try await TestServer.with(store: store, accounts: Self.accounts) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                let (line, sasl) = try await client.authenticate(
                    mechanism,
                    user: "bob",
                    password: "pässwörd",
                    sendInitialResponse: initialResponse
                )
                #expect(line == "+OK maildrop has 1 messages (22 octets)")
                try sasl.verifyCompletion()
                #expect(try await client.command("STAT") == "+OK 1 22")
            }
            #expect(
                server.log.lines.contains { $0.hasPrefix("login ok user=bob") && $0.hasSuffix("mech=\(mechanism)") }
            )
            #expect(!server.log.lines.contains { $0.contains("pässwörd") })
        }
    }

    /// LOGIN's prompts are those of draft-murchison-sasl-login, byte for byte.
    @Test func loginPrompts() async throws {
        try await TestServer.with(accounts: Self.accounts) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: AUTH LOGIN
                S: + VXNlcm5hbWU6
                C: YWxpY2U=
                S: + UGFzc3dvcmQ6
                C: c2VjcmV0
                S: +OK maildrop has 0 messages (0 octets)
                """
            )
        }
    }

    /// A wrong SCRAM password and an unknown SCRAM user fail the same way, with `[AUTH]`,
    /// after the server has answered client-first normally (RFC 5802 §9).
    @Test(arguments: [("alice", "wrong"), ("nobody", "secret")])
    func scramWithWrongCredentialsFails(user: String, password: String) async throws {
        try await TestServer.with(accounts: Self.accounts) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                let (line, sasl) = try await client.authenticate(
                    .scramSHA256,
                    user: user,
                    password: password,
                    sendInitialResponse: true
                )
                #expect(line == "-ERR [AUTH] authentication failed")
                #expect(throws: (any Error).self) { try sasl.verifyCompletion() }
                #expect(try await client.command("NOOP") == "-ERR not authenticated")
            }
            #expect(
                server.log.lines.contains {
                    $0.hasPrefix("login failed user=\(user)") && $0.contains("mech=SCRAM-SHA-256")
                }
            )
        }
    }

    /// Without TLS on a connection where cleartext is not allowed, PLAIN and LOGIN are refused
    /// and not offered, while SCRAM-SHA-256 (no password on the wire) still works.
    @Test func scramWorksWhereCleartextMechanismsAreRefused() async throws {
        try await TestServer.with(accounts: Self.accounts, configure: { $0.cleartextAllowedOnLoopback = false }) {
            server in
            try await server.connect { client async throws in
                _ = try await client.line()
                #expect(try await client.command("CAPA").hasPrefix("+OK"))
                #expect(try await client.multiLineBody().contains("SASL SCRAM-SHA-256"))
                for name in [SASLMechanismName.plain, .login] {
                    let (line, _) = try await client.authenticate(
                        name,
                        user: "alice",
                        password: "secret",
                        sendInitialResponse: false
                    )
                    #expect(line == "-ERR [AUTH] clear text authentication requires TLS, use STLS")
                }
                let (line, sasl) = try await client.authenticate(
                    .scramSHA256,
                    user: "alice",
                    password: "secret",
                    sendInitialResponse: false
                )
                #expect(line == "+OK maildrop has 0 messages (0 octets)")
                try sasl.verifyCompletion()
            }
        }
    }

    /// A client that breaks SCRAM's syntax is refused with `[AUTH]` and may start over.
    @Test func malformedSCRAMMessage() async throws {
        try await TestServer.with(accounts: Self.accounts) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: AUTH SCRAM-SHA-256 \(Base64.encode(Array("garbage".utf8)))
                S: -ERR [AUTH] authentication failed: protocol error
                C: AUTH SCRAM-SHA-256 =
                S: -ERR [AUTH] authentication failed: protocol error
                C: CAPA
                S: +OK Capability list follows
                """
            )
        }
    }
}
