import MailCore
@_spi(POP3Internal) import SASL
import Testing

@testable import SASL

@Suite("SCRAM-SHA-256 exchanges and hostile input")
struct SCRAMExchangeTests {
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    private func serverAfterClientFirst(_ clientFirst: String = RFC7677.clientFirst) -> SCRAMSHA256ServerMechanism {
        var server = SCRAMSHA256ServerMechanism(nonceGenerator: { RFC7677.serverNonce })
        _ = server.start(initialResponse: bytes(clientFirst))
        _ = server.credentialsLookedUp(RFC7677.credentials)
        return server
    }

    private func expectMalformed(_ action: SASLServerAction, sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .failure(.malformed) = action else {
            Issue.record("expected malformed, got \(action)", sourceLocation: sourceLocation)
            return
        }
    }

    @Test("random nonces: round trip succeeds and wrong passwords fail")
    func roundTrip() throws {
        let credentials = SCRAM.deriveCredentials(
            password: "s3cret, =yes",
            salt: SecureRandom.bytes(16),
            iterations: 4096
        )
        for (password, succeeds) in [("s3cret, =yes", true), ("s3cret", false)] {
            var driver = ExchangeDriver(scramCredentials: ["al=ce,x": credentials])
            var client = try #require(makeSASLClientMechanism(.scramSHA256, user: "al=ce,x", secret: password))
            var server = try #require(makeSASLServerMechanism(.scramSHA256))
            let outcome = try driver.run(client: &client, server: &server)
            #expect(outcome == (succeeds ? .success(user: "al=ce,x") : .failure(.authenticationFailed)))
            // The user name is escaped on the wire (RFC 5802 §5.1 `n`).
            #expect(
                driver.clientMessages.first.map { String(decoding: $0, as: UTF8.self) }?.hasPrefix(
                    "n,,n=al=3Dce=2Cx,r="
                ) == true
            )
            if succeeds { try client.verifyCompletion() }
        }
    }

    @Test("unknown user: the exchange runs with made-up salt and fails at the proof")
    func unknownUser() throws {
        var driver = ExchangeDriver()
        var client = SCRAMSHA256ClientMechanism(user: "ghost", password: "x")
        var server = SCRAMSHA256ServerMechanism()
        #expect(try driver.run(client: &client, server: &server) == .failure(.authenticationFailed))
        #expect(driver.serverChallenges.count == 1)
        #expect(String(decoding: driver.serverChallenges[0], as: UTF8.self).contains(",i=4096"))
    }

    @Test("no initial response: empty challenge first")
    func noInitialResponse() throws {
        var server = SCRAMSHA256ServerMechanism(nonceGenerator: { RFC7677.serverNonce })
        var client = SCRAMSHA256ClientMechanism(
            user: "user",
            password: "pencil",
            nonceGenerator: { RFC7677.clientNonce }
        )
        #expect(server.start(initialResponse: nil) == .challenge([]))
        #expect(try client.respond(to: []) == bytes(RFC7677.clientFirst))
        #expect(server.received(response: bytes(RFC7677.clientFirst)) == .lookUpSCRAMCredentials(user: "user"))
    }

    @Test("gs2 flag y is accepted and must be echoed in c=")
    func flagY() {
        var server = SCRAMSHA256ServerMechanism(nonceGenerator: { "S" })
        #expect(server.start(initialResponse: bytes("y,,n=user,r=abc")) == .lookUpSCRAMCredentials(user: "user"))
        #expect(
            server.credentialsLookedUp(RFC7677.credentials)
                == .challenge(bytes("r=abcS,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
        )
        // c=biws is "n,,", which does not match the "y,," we were sent.
        expectMalformed(
            server.received(response: bytes("c=biws,r=abcS,p=" + Base64.encode([UInt8](repeating: 0, count: 32))))
        )
    }

    @Test("an authzid equal to the user is accepted, another one refused")
    func authzid() {
        var same = SCRAMSHA256ServerMechanism()
        #expect(
            same.start(initialResponse: bytes("n,a=us=3Der,n=us=3Der,r=abc")) == .lookUpSCRAMCredentials(user: "us=er")
        )
        var other = SCRAMSHA256ServerMechanism()
        #expect(other.start(initialResponse: bytes("n,a=admin,n=user,r=abc")) == .failure(.authenticationFailed))
    }

    @Test(
        "malformed client-first messages",
        arguments: [
            "", "n", "n,", "n,,", "p=tls-server-end-point,,n=user,r=abc", "x,,n=user,r=abc", "n,,r=abc,n=user",
            "n,,m=ext,n=user,r=abc", "n,,n=,r=abc", "n,,n=us=2Cx=41,r=abc", "n,,n=user", "n,,n=user,r=",
            "n,,n=user,r=a b", "n,b=x,n=user,r=abc", "n,,n=user,r=abc,", "n,,n=user,,r=abc", "n,,n=user,r=abc,1=x",
            "n,,n=us\u{0}er,r=abc", "n,,n=user=,r=abc",
        ]
    )
    func malformedClientFirst(_ message: String) {
        var server = SCRAMSHA256ServerMechanism()
        expectMalformed(server.start(initialResponse: bytes(message)))
    }

    @Test("client-first with invalid UTF-8 in the name is malformed")
    func invalidUTF8Name() {
        var server = SCRAMSHA256ServerMechanism()
        expectMalformed(server.start(initialResponse: bytes("n,,n=") + [0xFF] + bytes(",r=abc")))
    }

    @Test(
        "malformed client-final messages",
        arguments: [
            "", "c=biws", "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            "c=biws,r=wrong,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "c=b!ws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapW",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=****",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
            "c=biws,,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        ]
    )
    func malformedClientFinal(_ message: String) {
        var server = serverAfterClientFirst()
        expectMalformed(server.received(response: bytes(message)))
    }

    @Test("an extension before the proof is allowed and covered by the proof")
    func extensionBeforeProof() {
        var server = serverAfterClientFirst()
        // The RFC proof was computed without the extension, so the proof no longer matches.
        let message =
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,x=ext,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        #expect(server.received(response: bytes(message)) == .failure(.authenticationFailed))
    }

    @Test("a non-empty answer to server-final is malformed")
    func nonEmptyAcknowledgement() {
        var server = serverAfterClientFirst()
        _ = server.received(response: bytes(RFC7677.clientFinal))
        expectMalformed(server.received(response: bytes("x")))
    }

    @Test("calls out of order fail without trapping")
    func outOfOrder() {
        var server = SCRAMSHA256ServerMechanism()
        expectMalformed(server.credentialsLookedUp(nil))
        var other = SCRAMSHA256ServerMechanism()
        _ = other.start(initialResponse: bytes(RFC7677.clientFirst))
        expectMalformed(other.received(response: bytes(RFC7677.clientFinal)))
        var third = SCRAMSHA256ServerMechanism()
        expectMalformed(third.passwordVerified(true))
    }

    @Test("unusable stored credentials are treated like an unknown user")
    func unusableCredentials() {
        var server = SCRAMSHA256ServerMechanism(nonceGenerator: { RFC7677.serverNonce })
        _ = server.start(initialResponse: bytes(RFC7677.clientFirst))
        let broken = SCRAMCredentials(salt: RFC7677.salt, iterations: 0, storedKey: [1], serverKey: [2])
        guard case .challenge = server.credentialsLookedUp(broken) else {
            Issue.record("expected a challenge")
            return
        }
        #expect(server.received(response: bytes(RFC7677.clientFinal)) == .failure(.authenticationFailed))
    }

    @Test(
        "client rejects malformed server-first messages",
        arguments: [
            "r=rOprNGfwEbeRWgbNEkqO", "r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=***,i=4096", "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999999999999999",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1",
            "m=x,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096",
        ]
    )
    func clientRejectsServerFirst(_ message: String) throws {
        var client = SCRAMSHA256ClientMechanism(
            user: "user",
            password: "pencil",
            nonceGenerator: { RFC7677.clientNonce }
        )
        _ = try client.initialResponse()
        #expect(throws: SASLClientError.self) { try client.respond(to: bytes(message)) }
    }

    @Test("client answers one empty challenge with client-first (initial response not sent), not two")
    func clientResendsClientFirstOnce() throws {
        var client = SCRAMSHA256ClientMechanism(
            user: "user",
            password: "pencil",
            nonceGenerator: { RFC7677.clientNonce }
        )
        _ = try client.initialResponse()
        #expect(try client.respond(to: []) == bytes(RFC7677.clientFirst))
        #expect(throws: SASLClientError.self) { try client.respond(to: []) }
    }

    @Test("client rejects a server-final without v=")
    func clientRejectsServerFinal() throws {
        for message in ["", "x=1", "v=***"] {
            var client = SCRAMSHA256ClientMechanism(
                user: "user",
                password: "pencil",
                nonceGenerator: { RFC7677.clientNonce }
            )
            _ = try client.initialResponse()
            _ = try client.respond(to: bytes(RFC7677.serverFirst))
            #expect(throws: SASLClientError.self) { try client.respond(to: bytes(message)) }
        }
    }
}
