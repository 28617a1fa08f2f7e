import NIOConcurrencyHelpers
import Testing

@testable import Discovery

/// Discovery's order and choices, with its sources replaced: DNS answers, autoconfig files and
/// probe outcomes are given per test, and what was asked is recorded.
@Suite("discovery order")
struct MailServerDiscoveryTests {
    final class World: Sendable {
        let srv: [String: [SRVRecord]]
        let files: [String: String]
        let outcomes: [String: ProbeOutcome]
        private let log = NIOLockedValueBox<[String]>([])

        init(srv: [String: [SRVRecord]] = [:], files: [String: String] = [:], outcomes: [String: ProbeOutcome] = [:]) {
            self.srv = srv
            self.files = files
            self.outcomes = outcomes
        }

        var asked: [String] { log.withLockedValue { $0 } }

        func discovery(
            _ address: String = "al@example.org",
            allowPlaintext: Bool = false,
            given: [ServerCandidate]? = nil
        ) -> MailServerDiscovery {
            MailServerDiscovery(
                address: MailAddress(address)!,  // safe: test literals
                allowPlaintext: allowPlaintext,
                given: given,
                lookupSRV: { name in
                    self.log.withLockedValue { $0.append("srv \(name)") }
                    return self.srv[name] ?? []
                },
                fetch: { url in
                    self.log.withLockedValue { $0.append("get \(url)") }
                    return self.files[url].map { Array($0.utf8) }
                },
                probe: { candidate in
                    self.log.withLockedValue { $0.append("probe \(candidate)") }
                    return self.outcomes[candidate.description] ?? .failed("the host name could not be resolved")
                }
            )
        }
    }

    static func run(
        _ discovery: MailServerDiscovery,
        confirm: Bool = false
    ) async throws(DiscoveryError) -> MailServerDiscovery.Found {
        try await discovery.run(report: { _ in }, confirm: { _ in confirm })
    }

    static func autoconfig(_ entries: [(String, Int, String)]) -> String {
        let servers = entries.map { host, port, socket in
            "<incomingServer type=\"pop3\"><hostname>\(host)</hostname><port>\(port)</port>"
                + "<socketType>\(socket)</socketType><username>%EMAILLOCALPART%</username></incomingServer>"
        }
        return "<clientConfig><emailProvider>\(servers.joined())</emailProvider></clientConfig>"
    }

    @Test func srvComesFirstAndImplicitTLSBeforeSTLS() async throws {
        let world = World(
            srv: [
                "_pop3._tcp.example.org": [SRVRecord(priority: 0, weight: 0, port: 110, target: "pop.example.org")],
                "_pop3s._tcp.example.org": [SRVRecord(priority: 0, weight: 0, port: 995, target: "pop.example.org")],
            ],
            outcomes: [
                "pop.example.org:995 (implicit TLS)": .verified, "pop.example.org:110 (STLS)": .verified,
            ]
        )
        let found = try await Self.run(world.discovery())
        #expect(found.candidate.description == "pop.example.org:995 (implicit TLS)")
        #expect(found.candidate.source == .srv("_pop3s._tcp.example.org"))
        #expect(
            world.asked == [
                "srv _pop3s._tcp.example.org", "srv _pop3._tcp.example.org", "probe pop.example.org:995 (implicit TLS)",
            ]
        )
    }

    @Test func autoconfigWhenThereIsNoSRVAndItsUserName() async throws {
        let wellKnown = "https://example.org/.well-known/autoconfig/mail/config-v1.1.xml"
        let world = World(
            files: [wellKnown: Self.autoconfig([("in.example.net", 110, "STARTTLS"), ("in.example.net", 995, "SSL")])],
            outcomes: ["in.example.net:995 (implicit TLS)": .verified, "in.example.net:110 (STLS)": .verified]
        )
        let found = try await Self.run(world.discovery())
        #expect(found.candidate.description == "in.example.net:995 (implicit TLS)", "implicit TLS first")
        #expect(found.candidate.userName == "al")
        #expect(found.candidate.source == .autoconfig(wellKnown))
        #expect(
            world.asked.filter { $0.hasPrefix("get") } == [
                "get https://autoconfig.example.org/mail/config-v1.1.xml", "get \(wellKnown)",
            ]
        )
    }

    @Test func commonNamesLast() async throws {
        let world = World(outcomes: ["mail.example.org:110 (STLS)": .verified])
        let found = try await Self.run(world.discovery())
        #expect(found.candidate.description == "mail.example.org:110 (STLS)")
        #expect(
            world.asked.filter { $0.hasPrefix("probe") } == [
                "probe pop.example.org:995 (implicit TLS)", "probe pop.example.org:110 (STLS)",
                "probe mail.example.org:995 (implicit TLS)", "probe mail.example.org:110 (STLS)",
            ]
        )
    }

    @Test func anUntrustedCertificateIsFoundForTheCallerToDecide() async throws {
        let certificate = POP3ServerCertificateFixture.selfSigned
        let world = World(outcomes: [
            "pop.example.org:995 (implicit TLS)": .untrustedCertificate(certificate, reason: "x")
        ])
        let found = try await Self.run(world.discovery())
        #expect(found.outcome == .untrustedCertificate(certificate, reason: "x"))
    }

    @Test func cleartextIsNeverUsedUnlessAskedFor() async throws {
        let url = "https://autoconfig.example.org/mail/config-v1.1.xml"
        let world = World(
            files: [url: Self.autoconfig([("old.example.org", 110, "plain")])],
            outcomes: ["pop.example.org:110 (STLS)": .noTLS, "old.example.org:110 (no TLS)": .plaintext]
        )
        do {
            _ = try await Self.run(world.discovery())
            Issue.record("a server without TLS was used")
        } catch {
            #expect(error.serverOffersNoTLS)
            #expect(error.message.contains("--tls none"))
        }
        #expect(!world.asked.contains("probe old.example.org:110 (no TLS)"), "not even connected to")
        // Asked for by name: the autoconfig's cleartext server is used.
        let found = try await Self.run(world.discovery(allowPlaintext: true))
        #expect(found.candidate.description == "old.example.org:110 (no TLS)")
        #expect(found.outcome == .plaintext)
    }

    @Test func aServerWithoutSTLSIsUsedInCleartextOnlyWhenAskedFor() async throws {
        let world = World(outcomes: ["pop.example.org:110 (STLS)": .noTLS])
        let found = try await Self.run(world.discovery(allowPlaintext: true))
        #expect(found.candidate.description == "pop.example.org:110 (no TLS)")
    }

    @Test func srvTargetsElsewhereNeedConfirmationBeforeAnyConnection() async throws {
        let world = World(
            srv: [
                "_pop3s._tcp.example.org": [SRVRecord(priority: 0, weight: 0, port: 995, target: "pop.provider.net")]
            ],
            outcomes: ["pop.provider.net:995 (implicit TLS)": .verified]
        )
        do {
            _ = try await Self.run(world.discovery(), confirm: false)
            Issue.record("an unconfirmed target was used")
        } catch {
            #expect(error.message.contains("--host pop.provider.net"))
        }
        #expect(!world.asked.contains("probe pop.provider.net:995 (implicit TLS)"))
        let found = try await Self.run(world.discovery(), confirm: true)
        #expect(found.candidate.host == "pop.provider.net")
    }

    @Test func nothingFoundSaysWhatWasTriedAndWhatToDo() async throws {
        let world = World()
        do {
            _ = try await Self.run(world.discovery("bob@nosuch.example"))
            Issue.record("expected an error")
        } catch {
            #expect(!error.serverOffersNoTLS)
            #expect(error.message.contains("found no POP3 server for nosuch.example"))
            #expect(error.message.contains("no SRV record, no autoconfig file"))
            #expect(error.message.contains("pop.nosuch.example does not exist; mail.nosuch.example does not exist"))
            #expect(error.message.contains("--host NAME"))
        }
    }

    @Test func givenServersAreTheOnlyOnesTried() async throws {
        let given = [
            ServerCandidate(host: "localhost", port: 1995, security: .implicitTLS, source: .given),
            ServerCandidate(host: "localhost", port: 1995, security: .startTLS, source: .given),
        ]
        let world = World(outcomes: ["localhost:1995 (STLS)": .verified])
        let found = try await Self.run(world.discovery(given: given))
        #expect(found.candidate == given[1])
        #expect(world.asked == ["probe localhost:1995 (implicit TLS)", "probe localhost:1995 (STLS)"])
    }

    @Test func probesAreBounded() async throws {
        let records = (0..<40).map { SRVRecord(priority: 0, weight: 0, port: 995, target: "s\($0).example.org") }
        let world = World(srv: ["_pop3s._tcp.example.org": records])
        _ = try? await Self.run(world.discovery())
        #expect(world.asked.filter { $0.hasPrefix("probe") }.count == MailServerDiscovery.maximumCandidates)
    }
}
