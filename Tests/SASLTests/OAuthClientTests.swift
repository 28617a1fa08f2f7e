import Testing

@testable import SASL

@Suite("XOAUTH2 and OAUTHBEARER clients")
struct OAuthClientTests {
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }
    private let errorJSON = Array(#"{"status":"invalid_token","scope":"mail"}"#.utf8)

    @Test("XOAUTH2 waits for the empty challenge, then sends user and bearer token")
    func xoauth2() throws {
        var client = try #require(makeSASLClientMechanism(.xoauth2, user: "someone@example.com", secret: "ya29.token"))
        #expect(try client.initialResponse() == nil)
        #expect(try client.respond(to: []) == bytes("user=someone@example.com\u{1}auth=Bearer ya29.token\u{1}\u{1}"))
        // An error arrives as a JSON challenge: answer empty, then the server says -ERR.
        #expect(try client.respond(to: errorJSON) == [])
        #expect(throws: SASLClientError.self) { try client.respond(to: []) }
    }

    @Test("OAUTHBEARER with host and port (RFC 7628 §4.1)")
    func oauthBearerWithHostAndPort() throws {
        var client = OAuthBearerClientMechanism(
            user: "user@example.com",
            token: "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==",
            host: "server.example.com",
            port: 143
        )
        #expect(try client.initialResponse() == nil)
        let expected =
            "n,a=user@example.com,\u{1}host=server.example.com\u{1}port=143\u{1}"
            + "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\u{1}\u{1}"
        #expect(try client.respond(to: []) == bytes(expected))
        // RFC 7628 §3.2.3: a single %x01 after the error message.
        #expect(try client.respond(to: errorJSON) == [0x01])
        #expect(throws: SASLClientError.self) { try client.respond(to: []) }
    }

    @Test("OAUTHBEARER without host and port escapes the authzid")
    func oauthBearerMinimal() throws {
        var client = try #require(makeSASLClientMechanism(.oauthBearer, user: "a,b=c", secret: "T"))
        #expect(try client.respond(to: []) == bytes("n,a=a=2Cb=3Dc,\u{1}auth=Bearer T\u{1}\u{1}"))
    }

    @Test(
        "control characters in user or token are refused",
        arguments: [("u\u{1}", "t"), ("u", "t\u{1}"), ("", "t"), ("u", "")]
    )
    func controlCharacters(user: String, token: String) {
        var xoauth2 = XOAUTH2ClientMechanism(user: user, token: token)
        #expect(throws: SASLClientError.self) { try xoauth2.respond(to: []) }
        var bearer = OAuthBearerClientMechanism(user: user, token: token)
        #expect(throws: SASLClientError.self) { try bearer.respond(to: []) }
    }

    @Test("a port out of range is refused")
    func badPort() {
        var client = OAuthBearerClientMechanism(user: "u", token: "t", host: "h", port: 70000)
        #expect(throws: SASLClientError.self) { try client.respond(to: []) }
    }
}
