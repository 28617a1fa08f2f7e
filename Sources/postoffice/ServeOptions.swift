import Accounts
import ArgumentParser
import ProxyProtocol

/// The flags of `postoffice serve` (DESIGN.md, "Contracts": scripts and tests rely on them).
struct ServeOptions: ParsableArguments {
    @OptionGroup var site: SiteOptions

    @Option(name: .long, help: "Plain POP3 listener with STLS, HOST:PORT (repeatable).")
    var listen: [ListenAddress] = []

    @Option(name: .customLong("listen-tls"), help: "Implicit-TLS (POP3S) listener, HOST:PORT (repeatable).")
    var listenTLS: [ListenAddress] = []

    @Option(
        name: .customLong("listen-proxy"),
        help:
            "Plain POP3 listener behind a proxy: each connection starts with a PROXY header (v1 or v2), HOST:PORT (repeatable)."
    )
    var listenProxy: [ListenAddress] = []

    @Option(
        name: .customLong("listen-tls-proxy"),
        help: "Implicit-TLS listener behind a proxy: a PROXY header, then TLS, HOST:PORT (repeatable)."
    )
    var listenTLSProxy: [ListenAddress] = []

    @Option(
        name: .customLong("trusted-proxy"),
        help: "Network (CIDR) whose proxies may send PROXY headers (repeatable; needed by the PROXY listeners)."
    )
    var trustedProxy: [String] = []

    @Option(
        name: .customLong("trusted-network"),
        help: "Network (CIDR) exempt from bans and the per-address connection cap (repeatable)."
    )
    var trustedNetwork: [String] = []

    @Option(
        name: .customLong("max-connections-per-ip"),
        help: "Sessions at once per client address, IPv6 per /64 (default 50; 0: no cap)."
    )
    var maxConnectionsPerIP: Int?

    @Option(
        name: .customLong("ban-after"),
        help: "Failed logins within the ban window that ban the address or user name (default 10; 0: no bans)."
    )
    var banAfter: Int?

    @Option(name: .customLong("ban-window"), help: "Seconds over which failed logins are counted (default 600).")
    var banWindow: Double?

    @Option(name: .customLong("ban-time"), help: "Seconds a ban lasts (default 900).")
    var banTime: Double?

    @Option(name: .long, help: "LMTP listener for the MTA, HOST:PORT or unix:PATH (repeatable).")
    var lmtp: [LMTPListenAddress] = []

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key.")
    var tlsKey: String?

    @Option(name: .customLong("auth-failure-delay"), help: "Seconds before answering a failed login (0: none).")
    var authFailureDelay: Double?

    @Flag(
        name: .customLong("allow-cleartext-auth"),
        help: "Allow passwords over connections that are neither TLS nor loopback."
    )
    var allowCleartextAuth = false

    @Option(name: .customLong("idle-timeout"), help: "Seconds of silence before a session is closed (default 600).")
    var idleTimeout: Double?

    @Option(
        name: .customLong("max-connections"),
        help: "Sessions served at once; one more is refused (default and most: what the descriptor limit allows)."
    )
    var maxConnections: Int?

    @Option(
        name: .customLong("takeover-after"),
        help: "Seconds of silence after which a new login may take a session's maildrop over (default 60)."
    )
    var takeoverAfter: Double?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String?

    @Option(
        name: .customLong("run-as"),
        help:
            "Started as root: bind the ports, then serve as USER[:GROUP] (default: the data directory's owner, else the 'postoffice' user; 'root' to stay root)."
    )
    var runAs: String?

    @Option(name: .long, help: "Serve Prometheus metrics at http://HOST:PORT/metrics.")
    var metrics: ListenAddress?

    @OptionGroup var admin: AdminSocketOption

    @OptionGroup var expireDays: ExpireDaysOption

    @Option(
        name: .customLong("login-delay"),
        help: "Seconds an account must wait after a successful login before the next (RFC 2449 LOGIN-DELAY)."
    )
    var loginDelay: Int?

    /// Defaults, then `[server]` in the config file, then flags.
    func resolve(canBindPrivilegedPorts: Bool) throws -> ServerSettings {
        var section = try site.loadServerSection()
        let siteSettings = try site.resolveSite(section: &section)
        var settings = ServerSettings(
            site: siteSettings,
            listen: [],
            listenTLS: [],
            usesDefaultListeners: false
        )
        func addresses(_ key: String) throws -> [ListenAddress] {
            try (section?.strings(key) ?? []).map { text in
                guard let address = ListenAddress(parsing: text) else {
                    throw ConfigError("[server].\(key): '\(text)' is not HOST:PORT")
                }
                return address
            }
        }
        let fileListen = try addresses("listen")
        let fileListenTLS = try addresses("listen_tls")
        let fileListenProxy = try addresses("listen_proxy")
        let fileListenTLSProxy = try addresses("listen_tls_proxy")
        // Listener flags replace the file's listeners as a whole, so `--listen-tls` alone serves TLS only.
        let flagsGiven = !listen.isEmpty || !listenTLS.isEmpty || !listenProxy.isEmpty || !listenTLSProxy.isEmpty
        settings.listen = flagsGiven ? listen : fileListen
        settings.listenTLS = flagsGiven ? listenTLS : fileListenTLS
        settings.listenProxy = flagsGiven ? listenProxy : fileListenProxy
        settings.listenTLSProxy = flagsGiven ? listenTLSProxy : fileListenTLSProxy
        if settings.listen.isEmpty && settings.listenTLS.isEmpty && settings.listenProxy.isEmpty
            && settings.listenTLSProxy.isEmpty
        {
            // The embedded default: loopback only, the standard ports when this process may bind them.
            settings.usesDefaultListeners = true
            settings.listen = [ListenAddress(host: "127.0.0.1", port: canBindPrivilegedPorts ? 110 : 1110)]
            settings.listenTLS = [ListenAddress(host: "127.0.0.1", port: canBindPrivilegedPorts ? 995 : 1995)]
        }
        let fileCert = try section?.string("tls_cert")
        let fileKey = try section?.string("tls_key")
        settings.tlsCertificate = tlsCert ?? fileCert
        settings.tlsKey = tlsKey ?? fileKey
        guard (settings.tlsCertificate == nil) == (settings.tlsKey == nil) else {
            throw ConfigError("--tls-cert and --tls-key go together: give both or neither")
        }
        let fileDelay = try section?.seconds("auth_failure_delay")
        if let v = authFailureDelay ?? fileDelay { settings.authFailureDelay = v }
        guard settings.authFailureDelay >= 0, settings.authFailureDelay <= 60 else {
            throw ConfigError("the auth failure delay must be between 0 and 60 seconds")
        }
        if let v = try section?.bool("allow_cleartext_auth") { settings.allowCleartextAuth = v }
        if allowCleartextAuth { settings.allowCleartextAuth = true }
        if let v = try section?.bool("apop") { settings.apop = v }
        let fileIdle = try section?.seconds("idle_timeout")
        if let v = idleTimeout ?? fileIdle { settings.idleTimeout = v }
        guard settings.idleTimeout > 0 else { throw ConfigError("the idle timeout must be positive") }
        let fileTakeover = try section?.seconds("takeover_after")
        if let v = takeoverAfter ?? fileTakeover { settings.takeoverAfter = v }
        guard settings.takeoverAfter > 0, settings.takeoverAfter <= 86400 else {
            throw ConfigError("the takeover time must be more than 0 and at most 86400 seconds")
        }
        if let v = try section?.seconds("shutdown_timeout") { settings.shutdownTimeout = v }
        let fileMaxConnections = try section?.int("max_connections")
        if let v = maxConnections ?? fileMaxConnections {
            guard v > 0 else { throw ConfigError("the connection limit must be positive") }
            settings.maxConnections = v
        }
        try resolveAbuseControls(section: &section, into: &settings)
        let fileLoginDelay = try section?.int("login_delay")
        if let delay = loginDelay ?? fileLoginDelay {
            guard (0...AccountSettings.maximumLoginDelay).contains(delay) else {
                throw ConfigError("the login delay must be between 0 and \(AccountSettings.maximumLoginDelay) seconds")
            }
            settings.loginDelay = delay
        }
        settings.expiry = try expireDays.resolve(section: &section)
        try resolveLMTP(section: &section, into: &settings)
        let fileRunAs = try section?.string("run_as")
        if let text = runAs ?? fileRunAs {
            guard let parsed = RunAs(parsing: text) else {
                throw ConfigError("--run-as: '\(text)' is not USER or USER:GROUP")
            }
            settings.runAs = parsed
        }
        let fileMetrics = try section?.string("metrics")
        if let metrics {
            settings.metrics = metrics
        } else if let text = fileMetrics {
            guard let address = ListenAddress(parsing: text) else {
                throw ConfigError("[server].metrics: '\(text)' is not HOST:PORT")
            }
            settings.metrics = address
        }
        settings.adminSocket = try admin.resolve(section: &section, site: siteSettings)
        let fileLogLevel = try section?.string("log_level")
        if let v = logLevel ?? fileLogLevel { settings.logLevel = v }
        try section?.rejectUnknownKeys()
        return settings
    }

    /// PROXY trust, the per-address cap and bans: `[server]` keys of the flags' names.
    private func resolveAbuseControls(section: inout ConfigSection?, into settings: inout ServerSettings) throws {
        func networks(_ flags: [String], _ key: String, flag: String) throws -> [IPNetwork] {
            let fromFile = try section?.strings(key) ?? []
            let texts = flags.isEmpty ? fromFile : flags
            return try texts.map { text in
                guard let network = IPNetwork(text) else {
                    let source = flags.isEmpty ? "[server].\(key)" : flag
                    throw ConfigError(
                        "\(source): '\(text)' is not an IP address or a network in CIDR form (host bits zero, e.g. 10.0.0.0/8)"
                    )
                }
                return network
            }
        }
        settings.trustedProxies = try networks(trustedProxy, "trusted_proxy", flag: "--trusted-proxy")
        settings.trustedNetworks = try networks(trustedNetwork, "trusted_network", flag: "--trusted-network")
        if !(settings.listenProxy.isEmpty && settings.listenTLSProxy.isEmpty), settings.trustedProxies.isEmpty {
            throw ConfigError("a PROXY listener needs --trusted-proxy CIDR: only trusted proxies may name the client")
        }
        let filePerIP = try section?.int("max_connections_per_ip")
        if let v = maxConnectionsPerIP ?? filePerIP {
            guard v >= 0 else { throw ConfigError("the per-address connection cap must be 0 (none) or positive") }
            settings.maxConnectionsPerIP = v == 0 ? nil : v
        }
        let fileBanAfter = try section?.int("ban_after")
        if let v = banAfter ?? fileBanAfter {
            guard v >= 0 else { throw ConfigError("--ban-after must be 0 (no bans) or positive") }
            settings.banAfter = v
        }
        let fileBanWindow = try section?.seconds("ban_window")
        if let v = banWindow ?? fileBanWindow { settings.banWindow = v }
        let fileBanTime = try section?.seconds("ban_time")
        if let v = banTime ?? fileBanTime { settings.banTime = v }
        guard settings.banWindow >= 1, settings.banTime >= 1 else {
            throw ConfigError("the ban window and the ban time must be at least 1 second")
        }
    }
}
