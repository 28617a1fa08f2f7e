import Testing

@testable import SASL

@Suite("LOGIN")
struct LoginMechanismTests {
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    @Test("two prompts, then a password check")
    func exchange() {
        var server = LoginServerMechanism()
        #expect(server.start(initialResponse: nil) == .challenge(bytes("Username:")))
        #expect(server.received(response: bytes("tim")) == .challenge(bytes("Password:")))
        #expect(
            server.received(response: bytes("secret"))
                == .verifyPassword(authenticationID: "tim", authorizationID: nil, password: bytes("secret"))
        )
        #expect(server.passwordVerified(true) == .success(user: "tim"))
    }

    @Test("user name as initial response")
    func initialUserName() {
        var server = LoginServerMechanism()
        #expect(server.start(initialResponse: bytes("tim")) == .challenge(bytes("Password:")))
        _ = server.received(response: bytes("secret"))
        #expect(server.passwordVerified(false) == .failure(.authenticationFailed))
    }

    @Test("bad forms", arguments: [[UInt8](), [0x74, 0x00, 0x6D], [0xC3, 0x28]])
    func badUserName(_ userName: [UInt8]) {
        var server = LoginServerMechanism()
        _ = server.start(initialResponse: nil)
        guard case .failure(.malformed) = server.received(response: userName) else {
            Issue.record("expected malformed")
            return
        }
    }

    @Test("bad password forms", arguments: [[UInt8](), [0x70, 0x00], [0xFF]])
    func badPassword(_ password: [UInt8]) {
        var server = LoginServerMechanism()
        _ = server.start(initialResponse: bytes("tim"))
        guard case .failure(.malformed) = server.received(response: password) else {
            Issue.record("expected malformed")
            return
        }
    }

    @Test("a response after the password is refused")
    func extraResponse() {
        var server = LoginServerMechanism()
        _ = server.start(initialResponse: bytes("tim"))
        _ = server.received(response: bytes("secret"))
        guard case .failure(.malformed) = server.received(response: bytes("more")) else {
            Issue.record("expected malformed")
            return
        }
    }

    @Test("client answers user, then password, then refuses")
    func client() throws {
        var client = LoginClientMechanism(user: "tim", password: "secret")
        #expect(try client.initialResponse() == nil)
        #expect(try client.respond(to: bytes("Username:")) == bytes("tim"))
        #expect(try client.respond(to: bytes("Password:")) == bytes("secret"))
        #expect(throws: SASLClientError.self) { try client.respond(to: bytes("What?")) }
    }

    @Test("round trip", arguments: [("tim", "secret", true), ("tim", "nope", false)])
    func roundTrip(user: String, password: String, succeeds: Bool) throws {
        var driver = ExchangeDriver(passwords: ["tim": "secret"])
        var client = LoginClientMechanism(user: user, password: password)
        var server = LoginServerMechanism()
        let outcome = try driver.run(client: &client, server: &server)
        #expect(outcome == (succeeds ? .success(user: user) : .failure(.authenticationFailed)))
        #expect(driver.serverChallenges == [bytes("Username:"), bytes("Password:")])
    }
}
