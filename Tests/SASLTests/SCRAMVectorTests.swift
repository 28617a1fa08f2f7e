import MailCore
@_spi(POP3Internal) import SASL
import Testing

@testable import SASL

/// RFC 7677 §3: user "user", password "pencil".
enum RFC7677 {
    static let clientNonce = "rOprNGfwEbeRWgbNEkqO"
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let salt = Base64.decode("W22ZaJ0SNY7soEsUEjb6gQ==")!  // safe: constant
    static let clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    static let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let clientFinal =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

    static var credentials: SCRAMCredentials {
        SCRAM.deriveCredentials(password: "pencil", salt: salt, iterations: 4096)
    }
}

@Suite("SCRAM-SHA-256 RFC 7677 test vector")
struct SCRAMVectorTests {
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    @Test("server produces every message byte for byte")
    func server() {
        var server = SCRAMSHA256ServerMechanism(nonceGenerator: { RFC7677.serverNonce })
        #expect(server.start(initialResponse: bytes(RFC7677.clientFirst)) == .lookUpSCRAMCredentials(user: "user"))
        #expect(server.credentialsLookedUp(RFC7677.credentials) == .challenge(bytes(RFC7677.serverFirst)))
        #expect(server.received(response: bytes(RFC7677.clientFinal)) == .challenge(bytes(RFC7677.serverFinal)))
        #expect(server.received(response: []) == .success(user: "user"))
    }

    @Test("client produces every message byte for byte and verifies the server")
    func client() throws {
        var client = SCRAMSHA256ClientMechanism(
            user: "user",
            password: "pencil",
            nonceGenerator: { RFC7677.clientNonce }
        )
        #expect(try client.initialResponse() == bytes(RFC7677.clientFirst))
        #expect(throws: SASLClientError.self) { try client.verifyCompletion() }
        #expect(try client.respond(to: bytes(RFC7677.serverFirst)) == bytes(RFC7677.clientFinal))
        #expect(try client.respond(to: bytes(RFC7677.serverFinal)) == [])
        try client.verifyCompletion()
    }

    @Test("client rejects a wrong server signature")
    func wrongServerSignature() throws {
        var client = SCRAMSHA256ClientMechanism(
            user: "user",
            password: "pencil",
            nonceGenerator: { RFC7677.clientNonce }
        )
        _ = try client.initialResponse()
        _ = try client.respond(to: bytes(RFC7677.serverFirst))
        let forged = "v=" + Base64.encode([UInt8](repeating: 7, count: 32))
        #expect(throws: SASLClientError(code: .serverNotAuthenticated, reason: "")) {
            try client.respond(to: bytes(forged))
        }
        #expect(throws: SASLClientError.self) { try client.verifyCompletion() }
    }

    @Test("client reports a server error e=")
    func serverError() throws {
        var client = SCRAMSHA256ClientMechanism(
            user: "user",
            password: "pencil",
            nonceGenerator: { RFC7677.clientNonce }
        )
        _ = try client.initialResponse()
        _ = try client.respond(to: bytes(RFC7677.serverFirst))
        #expect(throws: SASLClientError(code: .serverError, reason: "")) {
            try client.respond(to: bytes("e=invalid-proof"))
        }
    }

    @Test("server refuses a wrong password's proof")
    func wrongPassword() throws {
        var client = SCRAMSHA256ClientMechanism(user: "user", password: "pen", nonceGenerator: { RFC7677.clientNonce })
        var server = SCRAMSHA256ServerMechanism(nonceGenerator: { RFC7677.serverNonce })
        var driver = ExchangeDriver(scramCredentials: ["user": RFC7677.credentials])
        #expect(try driver.run(client: &client, server: &server) == .failure(.authenticationFailed))
    }

    @Test("the derived keys are those the vector implies")
    func derivedKeys() {
        let credentials = RFC7677.credentials
        #expect(credentials.iterations == 4096)
        #expect(credentials.salt == RFC7677.salt)
        #expect(credentials.storedKey.count == 32)
        #expect(credentials.serverKey.count == 32)
        // Different salt, different keys.
        let other = SCRAM.deriveCredentials(password: "pencil", salt: [1, 2, 3, 4], iterations: 4096)
        #expect(other.storedKey != credentials.storedKey)
    }
}
