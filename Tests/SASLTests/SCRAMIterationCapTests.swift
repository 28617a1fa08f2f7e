import Testing

@testable import SASL

/// The server picks the PBKDF2 iteration count (RFC 5802 §5.1 `i`); the client computes it. A
/// hostile server must not make the client spin: counts above the cap end the exchange.
@Suite("SCRAM-SHA-256 client: iteration cap")
struct SCRAMIterationCapTests {
    private func serverFirst(iterations: String) -> [UInt8] {
        Array("r=\(RFC7677.clientNonce)server,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=\(iterations)".utf8)
    }

    private func client(maximum: Int? = nil) throws -> SCRAMSHA256ClientMechanism {
        var client =
            maximum.map {
                SCRAMSHA256ClientMechanism(
                    user: "user",
                    password: "pencil",
                    maximumIterations: $0,
                    nonceGenerator: { RFC7677.clientNonce }
                )
            }
            ?? SCRAMSHA256ClientMechanism(user: "user", password: "pencil", nonceGenerator: { RFC7677.clientNonce })
        _ = try client.initialResponse()
        return client
    }

    @Test("the default cap is 100,000")
    func defaultCap() throws {
        #expect(SCRAMSHA256ClientMechanism.defaultMaximumIterations == 100_000)
        #expect(try client().maximumIterations == 100_000)
        let made = try #require(
            makeSASLClientMechanism(.scramSHA256, user: "u", secret: "p") as? SCRAMSHA256ClientMechanism
        )
        #expect(made.maximumIterations == 100_000)
    }

    @Test(
        "counts above the default cap are refused as excessive, not malformed",
        arguments: ["100001", "1000000", "10000000", "99999999999999999999999999"]
    )
    func aboveDefaultCap(iterations: String) throws {
        var client = try client()
        #expect(throws: SASLClientError(code: .excessiveIterationCount, reason: "")) {
            try client.respond(to: serverFirst(iterations: iterations))
        }
        // The exchange is over.
        #expect(throws: SASLClientError.self) { try client.respond(to: []) }
    }

    @Test("the refusal says how much was asked and what is allowed")
    func refusalText() throws {
        var client = try client()
        do {
            _ = try client.respond(to: serverFirst(iterations: "10000000"))
            Issue.record("expected a refusal")
        } catch let error as SASLClientError {
            #expect(error.reason.contains("10000000"))
            #expect(error.reason.contains("100000"))
        }
    }

    @Test("a count at the cap is computed", arguments: [4096, 100_000])
    func atCap(iterations: Int) throws {
        var client = try client()
        let final = try client.respond(to: serverFirst(iterations: "\(iterations)"))
        #expect(String(decoding: final, as: UTF8.self).hasPrefix("c=biws,"))
    }

    @Test("a configured cap applies both ways: lower refuses 4096, higher accepts 200,000")
    func configuredCap() throws {
        var low = try client(maximum: 1000)
        #expect(throws: SASLClientError(code: .excessiveIterationCount, reason: "")) {
            try low.respond(to: serverFirst(iterations: "4096"))
        }
        var high = try client(maximum: 200_000)
        _ = try high.respond(to: serverFirst(iterations: "200000"))
    }

    @Test("a configured cap never exceeds the library's ceiling")
    func ceiling() throws {
        #expect(try client(maximum: 50_000_000).maximumIterations == SCRAM.maximumIterations)
        let made = try #require(
            makeSASLClientMechanism(.scramSHA256, user: "u", secret: "p", scramMaximumIterations: 4096)
                as? SCRAMSHA256ClientMechanism
        )
        #expect(made.maximumIterations == 4096)
    }

    @Test("a count that is not a number stays malformed", arguments: ["0", "01", "-5", "12a", ""])
    func malformed(iterations: String) throws {
        var client = try client()
        #expect(throws: SASLClientError(code: .malformedChallenge, reason: "")) {
            try client.respond(to: serverFirst(iterations: iterations))
        }
    }
}
