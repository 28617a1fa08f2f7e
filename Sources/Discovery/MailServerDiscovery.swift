// Finding the POP3 server of an e-mail address the way mail clients do: RFC 6186 SRV records,
// then Thunderbird's autoconfig file, then common host names probed with CAPA; implicit TLS
// before STLS, and never cleartext unless asked for (RFC 8314 §5.1).

/// Finds where an address's mail can be fetched from.
public struct MailServerDiscovery: Sendable {
    /// The most candidates probed in one discovery, whatever the DNS and autoconfig say.
    public static let maximumCandidates = 16

    /// What discovery did, step by step, for the person watching.
    public enum Event: Sendable, Hashable {
        /// Looking at a source (an SRV name, an autoconfig address, the common host names).
        case looking(String)
        /// A source named these candidates.
        case found(String, [ServerCandidate])
        /// A source had nothing (the reason, for people).
        case nothing(String, String)
        /// A candidate was probed.
        case probed(ServerCandidate, ProbeOutcome)
        /// A candidate was left out without connecting (cleartext not allowed, not confirmed).
        case skipped(ServerCandidate, String)
    }

    /// The server chosen and what its probe found (`.verified`, `.untrustedCertificate` or `.plaintext`).
    public struct Found: Sendable, Hashable {
        public var candidate: ServerCandidate
        public var outcome: ProbeOutcome
    }

    public var address: MailAddress
    /// Servers without TLS are used only when the user asked for them (`--tls none`).
    public var allowPlaintext: Bool
    /// The servers the user named (`--host`); when set, nothing is looked up.
    public var given: [ServerCandidate]?

    let lookupSRV: @Sendable (String) async throws -> [SRVRecord]
    let fetch: @Sendable (String) async throws -> [UInt8]?
    let probe: @Sendable (ServerCandidate) async -> ProbeOutcome

    /// Discovery with the real DNS client, HTTPS and POP3 probes.
    public init(
        address: MailAddress,
        dns: DNSClient,
        resolveWithDNS: Bool,
        prober: ServerProber,
        autoconfigCAFile: String?,
        allowPlaintext: Bool,
        given: [ServerCandidate]?
    ) {
        let resolve: (@Sendable (String) async throws -> [String])? =
            resolveWithDNS ? { @Sendable host in try await dns.addresses(host) } : nil
        let https = HTTPSGet(additionalCAFile: autoconfigCAFile, resolve: resolve)
        self.init(
            address: address,
            allowPlaintext: allowPlaintext,
            given: given,
            lookupSRV: { name in try await dns.srv(name).orderedForUse() },
            fetch: { url in try await https.get(url) },
            probe: { candidate in await prober.probe(candidate) }
        )
    }

    /// Discovery with its sources replaced (tests).
    init(
        address: MailAddress,
        allowPlaintext: Bool,
        given: [ServerCandidate]?,
        lookupSRV: @escaping @Sendable (String) async throws -> [SRVRecord],
        fetch: @escaping @Sendable (String) async throws -> [UInt8]?,
        probe: @escaping @Sendable (ServerCandidate) async -> ProbeOutcome
    ) {
        self.address = address
        self.allowPlaintext = allowPlaintext
        self.given = given
        self.lookupSRV = lookupSRV
        self.fetch = fetch
        self.probe = probe
    }

    /// The autoconfig addresses Thunderbird asks, in its order.
    public var autoconfigAddresses: [String] {
        [
            "https://autoconfig.\(self.address.domain)/mail/config-v1.1.xml",
            "https://\(self.address.domain)/.well-known/autoconfig/mail/config-v1.1.xml",
        ]
    }

    /// Finds a usable server. `report` hears every step; `confirm` is asked before connecting to
    /// an SRV target outside the address's domain (RFC 8314 §5.1, RFC 6186 §6) and may say no.
    /// Throws a ``DiscoveryError`` that says what was tried and what to do when nothing works.
    public func run(
        report: @Sendable (Event) -> Void,
        confirm: @Sendable (ServerCandidate) async -> Bool
    ) async throws(DiscoveryError) -> Found {
        var state = Attempts()
        if let given {
            if let found = await self.tryCandidates(given, &state, report: report, confirm: confirm) { return found }
            throw self.failure(state, searched: false)
        }
        for step in [Self.srvStep, Self.autoconfigStep, Self.guessStep] {
            let (candidates, note) = await step(self)(report)
            if let note { state.notes.append(note) }
            if let found = await self.tryCandidates(candidates, &state, report: report, confirm: confirm) {
                return found
            }
        }
        throw self.failure(state, searched: true)
    }

    /// What was tried, for the final message.
    struct Attempts {
        var tried: Set<ServerCandidate> = []
        var withoutTLS: [ServerCandidate] = []
        var failures: [(ServerCandidate, String)] = []
        var declined: [ServerCandidate] = []
        /// What each source that had nothing said ("no SRV record", ...).
        var notes: [String] = []
    }

    /// A step's candidates, and a note for the final message when it found none.
    typealias Step = (@Sendable (Event) -> Void) async -> (candidates: [ServerCandidate], note: String?)

    private func tryCandidates(
        _ candidates: [ServerCandidate],
        _ state: inout Attempts,
        report: @Sendable (Event) -> Void,
        confirm: @Sendable (ServerCandidate) async -> Bool
    ) async -> Found? {
        var confirmedHosts: Set<String> = []
        for candidate in candidates {
            guard state.tried.count < Self.maximumCandidates else { break }
            guard !state.tried.contains(candidate) else { continue }
            state.tried.insert(candidate)
            if candidate.security == .plaintext && !self.allowPlaintext {
                // RFC 8314 §5.1: advertised services without TLS are ignored unless asked for.
                state.withoutTLS.append(candidate)
                report(.skipped(candidate, "it offers no TLS"))
                continue
            }
            if case .srv = candidate.source, !self.address.contains(host: candidate.host),
                !confirmedHosts.contains(candidate.host)
            {
                guard await confirm(candidate) else {
                    state.declined.append(candidate)
                    report(.skipped(candidate, "not confirmed: it is outside \(self.address.domain)"))
                    continue
                }
                confirmedHosts.insert(candidate.host)
            }
            let outcome = await self.probe(candidate)
            report(.probed(candidate, outcome))
            switch outcome {
            case .verified, .untrustedCertificate, .plaintext:
                return Found(candidate: candidate, outcome: outcome)
            case .noTLS where self.allowPlaintext:
                // Asked for by name (`--tls none`): the server on the plain port, without STLS.
                var plain = candidate
                plain.security = .plaintext
                return Found(candidate: plain, outcome: .plaintext)
            case .noTLS:
                state.withoutTLS.append(candidate)
            case .failed(let reason):
                state.failures.append((candidate, reason))
            }
        }
        return nil
    }

    /// RFC 6186 §3: `_pop3s._tcp` (implicit TLS) and `_pop3._tcp` (STLS); implicit TLS first
    /// (RFC 8314 §5.1).
    private static func srvStep(_ discovery: MailServerDiscovery) -> Step {
        { report in
            var candidates: [ServerCandidate] = []
            for (label, security) in [("_pop3s._tcp.", ConnectionSecurity.implicitTLS), ("_pop3._tcp.", .startTLS)] {
                let name = label + discovery.address.domain
                report(.looking("SRV \(name)"))
                do {
                    let records = try await discovery.lookupSRV(name)
                    let found = records.map {
                        ServerCandidate(host: $0.target, port: Int($0.port), security: security, source: .srv(name))
                    }
                    report(found.isEmpty ? .nothing("SRV \(name)", "no record") : .found("SRV \(name)", found))
                    candidates += found
                } catch {
                    report(.nothing("SRV \(name)", "\(error)"))
                }
            }
            return (candidates, candidates.isEmpty ? "no SRV record" : nil)
        }
    }

    /// Thunderbird's autoconfig file: the first address that has one.
    private static func autoconfigStep(_ discovery: MailServerDiscovery) -> Step {
        { report in
            for address in discovery.autoconfigAddresses {
                report(.looking(address))
                do {
                    guard let bytes = try await discovery.fetch(address) else {
                        report(.nothing(address, "not there"))
                        continue
                    }
                    let document = try AutoconfigDocument(
                        parsing: bytes,
                        localPart: discovery.address.localPart,
                        domain: discovery.address.domain
                    )
                    let found = document.servers.map { server in
                        ServerCandidate(
                            host: server.hostname,
                            port: server.port,
                            security: server.socketType == .ssl
                                ? .implicitTLS : server.socketType == .startTLS ? .startTLS : .plaintext,
                            source: .autoconfig(address),
                            userName: server.username
                        )
                    }
                    guard !found.isEmpty else {
                        report(.nothing(address, "it names no POP3 server"))
                        continue
                    }
                    report(.found(address, found))
                    // Implicit TLS, then STLS, then cleartext; the document's order within each.
                    let ordered = found.enumerated().sorted {
                        ($0.element.security.preference, $0.offset) < ($1.element.security.preference, $1.offset)
                    }
                    return (ordered.map(\.element), nil)
                } catch {
                    report(.nothing(address, "\(error)"))
                }
            }
            return ([], "no autoconfig file")
        }
    }

    /// The names providers commonly give their POP3 servers, each on the implicit-TLS port and
    /// the plain port with STLS.
    private static func guessStep(_ discovery: MailServerDiscovery) -> Step {
        { report in
            let hosts = discovery.guessedHosts
            report(.looking(hosts.joined(separator: ", ")))
            let candidates = hosts.flatMap { host in
                [
                    ServerCandidate(host: host, port: 995, security: .implicitTLS, source: .guess),
                    ServerCandidate(host: host, port: 110, security: .startTLS, source: .guess),
                ]
            }
            return (candidates, nil)
        }
    }

    /// `pop.DOMAIN`, `mail.DOMAIN`.
    public var guessedHosts: [String] { ["pop.\(self.address.domain)", "mail.\(self.address.domain)"] }

    /// A message that says what was tried and names the fix.
    private func failure(_ state: Attempts, searched: Bool) -> DiscoveryError {
        if let plain = state.withoutTLS.first {
            return DiscoveryError(
                "\(plain.host) port \(plain.port) offers no TLS, so your password and mail would cross the network "
                    + "readable by anyone. Ask your provider for its secure POP3 settings (port 995, or STLS on 110); "
                    + "only if the network is trusted (the server is this machine), run again with --tls none",
                serverOffersNoTLS: true
            )
        }
        if let declined = state.declined.first {
            return DiscoveryError(
                "the SRV record of \(self.address.domain) points to \(declined.host), outside the domain, and it was "
                    + "not confirmed; nothing else answered. If \(declined.host) is your provider's server, run again "
                    + "with --host \(declined.host)"
            )
        }
        let tried = Self.summary(of: state.failures)
        guard searched else {
            return DiscoveryError("could not reach a POP3 server: \(tried). Check --host and --port")
        }
        let notes = state.notes.isEmpty ? "" : state.notes.joined(separator: ", ") + "; "
        return DiscoveryError(
            "found no POP3 server for \(self.address.domain) (\(notes)\(tried)). Check the address for typos; "
                + "if it is right, give the server with --host NAME (your provider's help pages name it)"
        )
    }

    /// The failures, a host whose name does not resolve said once ("pop.example.org does not
    /// exist"), the others with their reason.
    static func summary(of failures: [(ServerCandidate, String)]) -> String {
        func unresolved(_ reason: String) -> Bool {
            reason.contains("could not be resolved") || reason.contains("does not exist")
        }
        var parts: [String] = []
        var hostsSaid: Set<String> = []
        for (candidate, reason) in failures {
            let sameHost = failures.filter { $0.0.host == candidate.host }
            if sameHost.allSatisfy({ unresolved($0.1) }) {
                if hostsSaid.insert(candidate.host).inserted { parts.append("\(candidate.host) does not exist") }
            } else {
                parts.append("\(candidate): \(reason)")
            }
        }
        return parts.prefix(8).joined(separator: "; ")
    }
}
