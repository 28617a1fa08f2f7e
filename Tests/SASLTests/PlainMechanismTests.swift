import Testing

@testable import SASL

@Suite("PLAIN (RFC 4616)")
struct PlainMechanismTests {
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    @Test("initial response asks for a password check")
    func initialResponse() {
        var server = PlainServerMechanism()
        let action = server.start(initialResponse: bytes("\0tim\0tanstaaftanstaaf"))
        #expect(
            action
                == .verifyPassword(authenticationID: "tim", authorizationID: nil, password: bytes("tanstaaftanstaaf"))
        )
        #expect(server.passwordVerified(true) == .success(user: "tim"))
    }

    @Test("no initial response gets an empty challenge")
    func emptyChallenge() {
        var server = PlainServerMechanism()
        #expect(server.start(initialResponse: nil) == .challenge([]))
        #expect(
            server.received(response: bytes("tim\0tim\0secret"))
                == .verifyPassword(authenticationID: "tim", authorizationID: "tim", password: bytes("secret"))
        )
        #expect(server.passwordVerified(false) == .failure(.authenticationFailed))
    }

    @Test("password may contain spaces and non-ASCII")
    func unusualPassword() {
        var server = PlainServerMechanism()
        let action = server.start(initialResponse: bytes("\0jörg\0p ä ss"))
        #expect(action == .verifyPassword(authenticationID: "jörg", authorizationID: nil, password: bytes("p ä ss")))
    }

    @Test("a different authorization identity is refused")
    func proxyAuthorization() {
        var server = PlainServerMechanism()
        #expect(server.start(initialResponse: bytes("admin\0tim\0secret")) == .failure(.authenticationFailed))
    }

    @Test(
        "malformed messages",
        arguments: [
            "", "tim", "\0tim", "\0tim\0", "\0\0secret", "a\0b\0c\0d", "\0tim\0sec\0ret",
        ]
    )
    func malformed(_ message: String) throws {
        var server = PlainServerMechanism()
        let action = server.start(initialResponse: bytes(message))
        guard case .failure(.malformed) = action else {
            Issue.record("expected malformed, got \(action)")
            return
        }
    }

    @Test("invalid UTF-8 is malformed")
    func invalidUTF8() {
        var server = PlainServerMechanism()
        guard case .failure(.malformed) = server.start(initialResponse: [0, 0xFF, 0xFE, 0, 0x41]) else {
            Issue.record("expected malformed")
            return
        }
    }

    @Test("calls out of order fail without trapping")
    func outOfOrder() {
        var server = PlainServerMechanism()
        guard case .failure(.malformed) = server.passwordVerified(true) else {
            Issue.record("expected failure")
            return
        }
        var other = PlainServerMechanism()
        _ = other.start(initialResponse: bytes("\0tim\0x"))
        guard case .failure(.malformed) = other.received(response: bytes("\0tim\0x")) else {
            Issue.record("expected failure")
            return
        }
        guard case .failure(.malformed) = other.credentialsLookedUp(nil) else {
            Issue.record("expected failure")
            return
        }
    }

    @Test("client sends NUL user NUL password, or answers the empty challenge")
    func client() throws {
        var client = PlainClientMechanism(user: "tim", password: "tanstaaftanstaaf")
        #expect(try client.initialResponse() == bytes("\0tim\0tanstaaftanstaaf"))
        #expect(try client.respond(to: []) == bytes("\0tim\0tanstaaftanstaaf"))
        #expect(throws: SASLClientError.self) { try client.respond(to: []) }
        #expect(throws: SASLClientError.self) {
            var other = PlainClientMechanism(user: "tim", password: "x")
            _ = try other.respond(to: bytes("hello"))
        }
        #expect(throws: SASLClientError.self) {
            var other = PlainClientMechanism(user: "t\0m", password: "x")
            _ = try other.initialResponse()
        }
    }

    @Test("round trip", arguments: [("tim", "tanstaaf", true), ("tim", "wrong", false), ("nobody", "x", false)])
    func roundTrip(user: String, password: String, succeeds: Bool) throws {
        var driver = ExchangeDriver(passwords: ["tim": "tanstaaf"])
        var client = PlainClientMechanism(user: user, password: password)
        var server = PlainServerMechanism()
        let outcome = try driver.run(client: &client, server: &server)
        #expect(outcome == (succeeds ? .success(user: user) : .failure(.authenticationFailed)))
        #expect(driver.serverChallenges.isEmpty)
    }

    @Test("factory")
    func factory() throws {
        #expect(makeSASLServerMechanism(SASLMechanismName("plain"))?.name == .plain)
        #expect(makeSASLClientMechanism(.plain, user: "u", secret: "p")?.name == .plain)
        #expect(makeSASLServerMechanism(SASLMechanismName("CRAM-MD5")) == nil)
        #expect(makeSASLServerMechanism(.xoauth2) == nil)
        #expect(supportedSASLServerMechanisms == [.scramSHA256, .plain, .login])
        for name in supportedSASLServerMechanisms {
            #expect(makeSASLServerMechanism(name)?.name == name)
        }
        for name in [SASLMechanismName.plain, .login, .scramSHA256, .xoauth2, .oauthBearer] {
            #expect(makeSASLClientMechanism(name, user: "u", secret: "s")?.name == name)
        }
    }
}
