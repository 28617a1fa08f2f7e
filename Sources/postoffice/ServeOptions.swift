import ArgumentParser

/// The flags of `postoffice serve` (DESIGN.md, "Contracts": scripts and tests rely on them).
struct ServeOptions: ParsableArguments {
    @OptionGroup var site: SiteOptions

    @Option(name: .long, help: "Plain POP3 listener with STLS, HOST:PORT (repeatable).")
    var listen: [ListenAddress] = []

    @Option(name: .customLong("listen-tls"), help: "Implicit-TLS (POP3S) listener, HOST:PORT (repeatable).")
    var listenTLS: [ListenAddress] = []

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key.")
    var tlsKey: String?

    @Option(name: .customLong("auth-failure-delay"), help: "Seconds before answering a failed login (0: none).")
    var authFailureDelay: Double?

    @Flag(name: .customLong("allow-cleartext-auth"), help: "Allow passwords over connections that are neither TLS nor loopback.")
    var allowCleartextAuth = false

    @Option(name: .customLong("idle-timeout"), help: "Seconds of silence before a session is closed (default 600).")
    var idleTimeout: Double?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String?

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
        settings.listen = listen.isEmpty ? try addresses("listen") : listen
        settings.listenTLS = listenTLS.isEmpty ? try addresses("listen_tls") : listenTLS
        if settings.listen.isEmpty && settings.listenTLS.isEmpty {
            // The embedded default: loopback only, the standard ports when this process may bind them.
            settings.usesDefaultListeners = true
            settings.listen = [ListenAddress(host: "127.0.0.1", port: canBindPrivilegedPorts ? 110 : 1110)]
            settings.listenTLS = [ListenAddress(host: "127.0.0.1", port: canBindPrivilegedPorts ? 995 : 1995)]
        }
        settings.tlsCertificate = try tlsCert ?? section?.string("tls_cert")
        settings.tlsKey = try tlsKey ?? section?.string("tls_key")
        guard (settings.tlsCertificate == nil) == (settings.tlsKey == nil) else {
            throw ConfigError("--tls-cert and --tls-key go together: give both or neither")
        }
        if let v = try authFailureDelay ?? section?.seconds("auth_failure_delay") { settings.authFailureDelay = v }
        guard settings.authFailureDelay >= 0, settings.authFailureDelay <= 60 else {
            throw ConfigError("the auth failure delay must be between 0 and 60 seconds")
        }
        if let v = try section?.bool("allow_cleartext_auth") { settings.allowCleartextAuth = v }
        if allowCleartextAuth { settings.allowCleartextAuth = true }
        if let v = try section?.bool("apop") { settings.apop = v }
        if let v = try idleTimeout ?? section?.seconds("idle_timeout") { settings.idleTimeout = v }
        guard settings.idleTimeout > 0 else { throw ConfigError("the idle timeout must be positive") }
        if let v = try section?.seconds("takeover_after") { settings.takeoverAfter = v }
        if let v = try section?.seconds("shutdown_timeout") { settings.shutdownTimeout = v }
        settings.loginDelay = try section?.int("login_delay")
        if let expire = try section?.string("expire") {
            guard expire == "NEVER" || Int(expire).map({ $0 >= 0 }) == true else {
                throw ConfigError("[server].expire must be a number of days or \"NEVER\"")
            }
            settings.expire = expire
        }
        if let v = try logLevel ?? section?.string("log_level") { settings.logLevel = v }
        try section?.rejectUnknownKeys()
        return settings
    }
}
