import POP3TestSupport
import Testing

@testable import POP3Server

/// APOP (RFC 1939 §7) over loopback.
@Suite("APOP over loopback")
struct APOPTests {
    static let accounts = InMemoryAccounts(["mrose": "tanstaaf", "hashed": "pw"], withoutAPOPSecret: ["hashed"])

    /// The digest check itself, with the example of RFC 1939 §7.
    @Test func rfcExampleDigest() {
        let timestamp = "<1896.697170952@dbc.mtview.ca.us>"
        #expect(APOPDigest.hex(timestamp: timestamp, secret: "tanstaaf") == "c4c9334bac560ecc979e58001b3e22fb")
        #expect(
            APOP.verify(
                digest: "c4c9334bac560ecc979e58001b3e22fb",
                timestamp: timestamp,
                secret: Array("tanstaaf".utf8)
            )
        )
        #expect(
            APOP.verify(
                digest: "C4C9334BAC560ECC979E58001B3E22FB",
                timestamp: timestamp,
                secret: Array("tanstaaf".utf8)
            )
        )
        #expect(
            !APOP.verify(
                digest: "c4c9334bac560ecc979e58001b3e22fc",
                timestamp: timestamp,
                secret: Array("tanstaaf".utf8)
            )
        )
        #expect(!APOP.verify(digest: "c4c9334bac560ecc", timestamp: timestamp, secret: Array("tanstaaf".utf8)))
    }

    /// Every greeting gets its own timestamp (RFC 1939 §7: it MUST be different each time).
    @Test func timestampsAreUniquePerGreeting() async throws {
        try await TestServer.with(
            accounts: Self.accounts,
            configure: {
                $0.apop = true; $0.hostname = "pop.example.org"
            }
        ) {
            server in
            var seen: Set<String> = []
            for _ in 0..<5 {
                let captured = try await server.play("S: +OK PostOffice POP3 server ready <{{unique}}@pop.example.org>")
                seen.insert(try #require(captured["unique"]))
            }
            #expect(seen.count == 5)
        }
    }

    @Test func rightDigestLogsIn() async throws {
        let store = RFCFixture.store()
        try await TestServer.with(store: store, accounts: Self.accounts, configure: { $0.apop = true }) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready {{timestamp}}
                C: APOP mrose {{digest}}
                S: +OK maildrop has 2 messages (320 octets)
                C: QUIT
                S: +OK PostOffice POP3 server signing off (2 messages left)
                !close
                """,
                substitutions: ["digest": { APOPDigest.hex(timestamp: $0["timestamp"] ?? "", secret: "tanstaaf") }]
            )
            #expect(server.log.lines.contains { $0.hasPrefix("login ok user=mrose") && $0.hasSuffix("mech=APOP") })
        }
    }

    /// A wrong digest, a digest made for another greeting, an account without a usable secret
    /// and an unknown user all fail alike, with `[AUTH]`.
    @Test func wrongDigestsFailWithAuth() async throws {
        try await TestServer.with(accounts: Self.accounts, configure: { $0.apop = true }) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready {{timestamp}}
                C: APOP mrose {{wrong}}
                S: -ERR [AUTH] authentication failed
                C: APOP mrose {{replayed}}
                S: -ERR [AUTH] authentication failed
                C: APOP hashed {{hashed}}
                S: -ERR [AUTH] too many authentication failures, closing
                !close
                """,
                substitutions: [
                    "wrong": { APOPDigest.hex(timestamp: $0["timestamp"] ?? "", secret: "tanstaafl") },
                    "replayed": { _ in APOPDigest.hex(timestamp: "<1896.697170952@localhost>", secret: "tanstaaf") },
                    "hashed": { APOPDigest.hex(timestamp: $0["timestamp"] ?? "", secret: "pw") },
                ]
            )
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready {{timestamp}}
                C: APOP nobody {{digest}}
                S: -ERR [AUTH] authentication failed
                """,
                substitutions: ["digest": { APOPDigest.hex(timestamp: $0["timestamp"] ?? "", secret: "x") }]
            )
            let failures = server.log.lines.filter { $0.hasPrefix("login failed") && $0.contains("mech=APOP") }
            #expect(failures.count == 4)
            #expect(failures.contains { $0.hasSuffix("reason=no-apop-secret") })
            #expect(!server.log.lines.contains { $0.contains("tanstaaf") })
        }
    }

    /// With APOP off (the default) the greeting has no timestamp and APOP is refused.
    @Test func disabledAPOPIsNotOfferedAndRefused() async throws {
        try await TestServer.with(store: RFCFixture.store(), accounts: Self.accounts) { server in
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
                S: -ERR APOP not available
                C: USER mrose
                S: +OK send PASS
                C: PASS tanstaaf
                S: +OK maildrop has 2 messages (320 octets)
                """
            )
        }
    }
}
