// The steps of `postoffice account add`: check the flags, find the server, settle the
// certificate, log in once, keep the password, choose the policy, write fetch.toml.

import Discovery
import Fetch
import FileIO
import Foundation
import Logging
import POP3Client

struct AccountSetup {
    let options: AccountAddCommand
    let prompter = AccountPrompter()
    let logger = Logger(label: "account")

    var interactive: Bool { !options.yes }

    func run() async throws {
        guard let address = MailAddress(options.address) else {
            throw AccountFailure(.configuration, "'\(options.address)' is not an e-mail address (name@domain)")
        }
        let name = options.name ?? options.address
        let file = options.config.file
        let existing = try await file.read()
        if let existing,
            try FetchFileSettings(text: existing, path: file.path).accounts.contains(where: { $0.name == name })
        {
            throw AccountFailure(
                .configuration,
                "\(file.path) already has an account named \(name): remove it first (postoffice account remove "
                    + "\(shellQuoted(name))), or give this one another --name"
            )
        }
        let tls = try self.tlsMode()
        let retentionFlag = try self.retentionFromFlags()
        let target = try options.to.map { try FetchAccountSettings.Target(parsing: $0) }
        if case .mda? = target { throw AccountFailure(.configuration, "--to takes maildir:DIR or mbox:FILE here") }
        let passwordFlags = [options.passwordFile != nil, options.passwordCommand != nil, options.passwordStdin]
        guard passwordFlags.filter({ $0 }).count <= 1 else {
            throw AccountFailure(.configuration, "give one of --password-file, --password-command, --password-stdin")
        }
        if options.yes && !passwordFlags.contains(true) {
            throw AccountFailure(
                .configuration,
                "with --yes nothing is asked: give the password with --password-file FILE, --password-command CMD "
                    + "or --password-stdin"
            )
        }
        guard [options.caFile != nil, options.fingerprint != nil].filter({ $0 }).count <= 1 else {
            throw AccountFailure(.configuration, "give --ca-file or --fingerprint, not both")
        }

        // Find the server.
        var trust = try await self.trust()
        let dns: DNSClient
        if let resolver = options.resolver {
            guard let server = DNSServerAddress(parsing: resolver) else {
                throw AccountFailure(.configuration, "--resolver '\(resolver)' is not IP:PORT (e.g. 127.0.0.1:53)")
            }
            dns = DNSClient(servers: [server])
        } else {
            dns = await DNSClient.system()
        }
        let resolve: (@Sendable (String) async throws -> [String])? =
            options.resolver == nil ? nil : { @Sendable host in try await dns.addresses(host) }
        var prober = ServerProber(trust: trust, resolve: resolve, logger: logger)
        let discovery = MailServerDiscovery(
            address: address,
            dns: dns,
            resolveWithDNS: options.resolver != nil,
            prober: prober,
            autoconfigCAFile: options.caFile.map(Self.absolute),
            allowPlaintext: tls == .plaintext,
            given: try self.givenCandidates(tls: tls)
        )
        if let host = options.host {
            say("Checking \(host)…")
        } else {
            say("Looking for the POP3 server of \(address.domain)…")
        }
        let interactive = self.interactive
        let prompter = self.prompter
        let found: MailServerDiscovery.Found
        do throws(DiscoveryError) {
            found = try await discovery.run(report: Self.show) { candidate in
                say("  \(candidate.host) is outside \(address.domain); it comes \(candidate.sourceDescription).")
                guard interactive else { return false }
                return (try? await prompter.confirm("  Use \(candidate.host) for \(address)?", default: false)) ?? false
            }
        } catch {
            throw AccountFailure(error.serverOffersNoTLS ? .tls : .network, error.message)
        }
        let server = found.candidate
        var pinned: POP3ServerCertificate?
        switch found.outcome {
        case .untrustedCertificate(let certificate, let reason):
            try await self.settleCertificate(certificate, reason: reason, host: server.host)
            pinned = certificate
            trust = .fingerprint(certificate.sha256)
            prober.trust = trust
        case .plaintext:
            try await self.acceptCleartext(server)
        default:
            break
        }
        say("Using \(server), \(server.sourceDescription).")

        // Log in once.
        let user = options.user ?? server.userName ?? options.address
        var (password, passwordSource) = try await self.initialPassword(user: user, host: server.host)
        let waiting = try await self.checkLogin(
            prober: prober,
            server: server,
            user: user,
            password: &password,
            source: passwordSource
        )
        say("Logged in as \(user): \(Self.describe(waiting)) on the server.")

        // Keep the password, choose the policy, save.
        if passwordSource == nil { passwordSource = try await self.keepPassword(password, account: name) }
        let retention: FetchAccountSettings.Retention
        if let retentionFlag { retention = retentionFlag } else { retention = try await self.askRetention() }
        let entry = AccountEntry(
            name: name,
            host: server.host,
            port: server.port,
            tls: FetchAccountSettings.TLSMode(rawValue: server.security.rawValue) ?? .implicit,
            user: user,
            password: passwordSource!,  // safe: set just above when it was nil
            retention: retention,
            caFile: pinned == nil ? options.caFile.map(Self.absolute) : nil,
            fingerprint: pinned?.fingerprint ?? options.fingerprint,
            target: target.map(Self.targetText),
            foundBy: "added by `postoffice account add`: \(server), \(server.sourceDescription)"
                + (pinned == nil ? "" : "; certificate pinned")
        )
        try await file.write(try file.adding(entry, to: existing))
        let mail: String =
            switch target {
            case .maildir(let path)?: path
            case .mbox(let path)?: path
            default: XDG.defaultMaildir(account: name)
            }
        say("Saved the account \(name) in \(file.path).")
        say("Next: `postoffice fetch` downloads the mail into \(mail), and `postoffice mail list` shows it.")
        say("To fetch every 5 minutes: `postoffice fetch --install-timer`.")
    }

    // MARK: - Flags

    private func tlsMode() throws -> ConnectionSecurity? {
        guard let text = options.tls else { return nil }
        guard let mode = ConnectionSecurity(rawValue: text) else {
            throw AccountFailure(.configuration, "--tls must be implicit, starttls or none, not '\(text)'")
        }
        return mode
    }

    private func retentionFromFlags() throws -> FetchAccountSettings.Retention? {
        switch (options.keep, options.keepDays) {
        case (true, .some): throw AccountFailure(.configuration, "--keep and --keep-days exclude each other")
        case (true, nil): return .keep
        case (false, .some(let days)):
            guard (0...100_000).contains(days) else {
                throw AccountFailure(.configuration, "--keep-days must be 0–100000")
            }
            return .keepDays(days)
        case (false, nil): return options.yes ? .deleteAfterDownload : nil
        }
    }

    private func trust() async throws -> POP3ClientConfiguration.Trust {
        if let caFile = options.caFile {
            let path = Self.absolute(caFile)
            guard try await BlockingIO.run({ FileManager.default.isReadableFile(atPath: path) }) else {
                throw AccountFailure(.configuration, "cannot read the CA file \(path)")
            }
            return .caFile(path)
        }
        if let fingerprint = options.fingerprint {
            guard let trust = POP3ClientConfiguration.Trust.fingerprint(parsing: fingerprint) else {
                throw AccountFailure(.configuration, "'\(fingerprint)' is not a SHA-256 fingerprint (64 hex digits)")
            }
            return trust
        }
        return .system
    }

    /// With --host: that host, on --port or the standard ports, with --tls or each TLS mode.
    private func givenCandidates(tls: ConnectionSecurity?) throws -> [ServerCandidate]? {
        guard let host = options.host else {
            guard options.port == nil else { throw AccountFailure(.configuration, "--port goes with --host") }
            return nil
        }
        if let port = options.port, !(1...65535).contains(port) {
            throw AccountFailure(.configuration, "--port \(port) is out of range")
        }
        let modes: [ConnectionSecurity] = tls.map { [$0] } ?? [.implicitTLS, .startTLS]
        return modes.map { mode in
            let port = options.port ?? (mode == .implicitTLS ? 995 : 110)
            return ServerCandidate(host: host, port: port, security: mode, source: .given)
        }
    }

    static func absolute(_ path: String) -> String {
        let expanded = expandTilde(path)
        return expanded.hasPrefix("/") ? expanded : FileManager.default.currentDirectoryPath + "/" + expanded
    }

    private static func targetText(_ target: FetchAccountSettings.Target) -> String {
        switch target {
        case .maildir(let path): "maildir:" + absolute(path)
        case .mbox(let path): "mbox:" + absolute(path)
        case .mda(let command): "mda:" + command
        }
    }
}
