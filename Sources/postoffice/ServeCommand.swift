import Accounts
import ArgumentParser
import Foundation
import Glibc
import LMTPCore
import LMTPServer
import Logging
import MailStore
import Metrics
import NIOCore
import POP3Core
import POP3Server
import PostgresStore
import Prometheus
import SASL
import ServerMetrics
import ServiceLifecycle

/// A listener that could not be opened at start-up.
struct ServeStartupError: Error, CustomStringConvertible {
    var description: String
}

/// `postoffice serve`: the POP3 server.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Serve mailboxes (Maildir, or PostgreSQL for several nodes) over POP3 (STLS on the plain port, implicit TLS on the TLS port)."
    )

    @OptionGroup var options: ServeOptions

    func run() async throws {
        // Before anything starts NIO's shared event loops: one loop per processor this process
        // may run on (NIO counts the machine's), and as many descriptors as the hard limit allows.
        NIOSingletons.groupLoopCountSuggestion = ProcessorCount.available
        ConnectionLimit.raiseFileDescriptorLimit()
        Signals.ignoreReloadUntilTrapped()
        let settings: ServerSettings
        let identity: ServiceIdentity?
        do {
            settings = try options.resolve(canBindPrivilegedPorts: geteuid() == 0)
            _ = try LoggingSetup.bootstrap(level: settings.logLevel)
            identity = try Self.identityToServeAs(settings: settings)
            try Self.checkSecretFiles(settings: settings, identity: identity)
        } catch {
            throw ValidationError("\(error)")
        }
        let logger = Logger(label: "postoffice")
        do {
            try await Self.serve(settings: settings, identity: identity, options: options, logger: logger)
        } catch let error as ServeStartupError {
            Console.printError("the server could not start: \(error.description)")
            throw ExitCode(2)
        } catch let error as POP3Server.StartupError {
            Console.printError("the server could not start: \(error.description)")
            throw ExitCode(2)
        } catch let error as LMTPServer.StartupError {
            Console.printError("the server could not start: \(error.description)")
            throw ExitCode(2)
        }
    }

    /// Whom to become after binding: nil to stay as we are (not root, or `--run-as root`).
    static func identityToServeAs(settings: ServerSettings) throws -> ServiceIdentity? {
        guard geteuid() == 0 else {
            if let runAs = settings.runAs {
                let identity = try ServiceIdentity.lookUp(runAs)
                guard identity.uid == geteuid() else {
                    throw ConfigError("--run-as \(runAs) needs root: this process runs as uid \(geteuid())")
                }
            }
            return nil
        }
        if let runAs = settings.runAs {
            let identity = try ServiceIdentity.lookUp(runAs)
            return identity.isRoot ? nil : identity
        }
        guard let identity = ServiceIdentity.defaultIdentity(dataDirectory: settings.site.dataDirectory) else {
            // The embedded default listens on loopback only, a trial on this machine (the
            // README's first command): it serves as root rather than refuse, and says how to
            // stop doing so. Any listener of one's own choosing needs a user to drop to.
            if settings.usesDefaultListeners {
                Console.printError(
                    "warning: serving as root on loopback (the embedded default); to drop privileges create the system user \(ServiceIdentity.defaultUserName) or give --run-as USER[:GROUP]"
                )
                return nil
            }
            throw ConfigError(
                "refusing to serve as root: create the system user (useradd --system --no-create-home --shell /usr/sbin/nologin \(ServiceIdentity.defaultUserName)), or give --run-as USER[:GROUP] (--run-as root serves as root anyway)"
            )
        }
        return identity
    }

    /// Refuses secrets open to others; the message says how to fix each.
    static func checkSecretFiles(settings: ServerSettings, identity: ServiceIdentity?) throws {
        var files: [(String, String)] = []
        // Accounts in PostgreSQL: no passwd-file is read (the database's password belongs in
        // PGPASSWORD or a file libpq-style tools guard).
        if settings.site.accountsURL == nil { files.append((settings.site.passwdFile, "passwd-file")) }
        if let key = settings.tlsKey { files.append((key, "TLS key")) }
        let problems = files.compactMap { SecretFilePermissions.problem(path: $0.0, what: $0.1) }
        guard problems.isEmpty else { throw ConfigError(problems.joined(separator: "\n")) }
    }

    static func serve(
        settings: ServerSettings,
        identity: ServiceIdentity?,
        options: ServeOptions,
        logger: Logger
    ) async throws {
        let site = settings.site
        let backends: Backends
        do {
            backends = try Backends(
                site: site,
                takeoverAfter: .seconds(settings.takeoverAfter),
                passwdFileAccounts: Self.passwdFileAccounts
            )
            try await backends.checkSchemas(logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        try prepareDataDirectory(settings: settings, identity: identity)
        let tls = try tlsFiles(settings: settings, logger: logger)
        if let identity {
            try handOver(generated: tls, settings: settings, to: identity)
            warnIfUnreadable(settings: settings, tls: tls, identity: identity, logger: logger)
        }
        let store = backends.store
        let accounts = ReloadableAccounts(backends.accounts)
        // Read now, so the first CAPA already shows the accounts' expire_days and login_delay
        // (the provider logs the file's problems, once).
        if let passwd = backends.accounts as? PasswdFileAccounts,
            FileManager.default.fileExists(atPath: site.passwdFile)
        {
            _ = await passwd.problems()
        }
        let loginHistory = LoginHistory(path: site.dataDirectory + "/" + LoginHistory.fileName)

        let (metrics, metricsEndpoint) = makeMetrics(settings: settings, logger: logger)
        var configuration = makePOP3Configuration(
            settings: settings,
            tls: tls,
            accounts: accounts,
            store: store,
            metrics: metrics,
            loginHistory: loginHistory
        )

        // Everything that needs root binds first; then the drop; then serving starts.
        var server = POP3Server(configuration: configuration)
        var addresses: [SocketAddress]
        do {
            addresses = try await server.bind()
        } catch {
            // The embedded default prefers 110/995 when it may bind them; when they are taken
            // it falls back to 1110/1995 rather than failing.
            guard settings.usesDefaultListeners, configuration.listeners.contains(where: { $0.port == 110 }) else {
                throw ServeStartupError(description: "\(error)")
            }
            logger.notice("ports 110/995 are not available (\(error)); using 1110 and 1995")
            configuration.listeners = [
                .init(host: "127.0.0.1", port: 1110, implicitTLS: false),
                .init(host: "127.0.0.1", port: 1995, implicitTLS: true),
            ]
            server = POP3Server(configuration: configuration)
            do {
                addresses = try await server.bind()
            } catch {
                throw ServeStartupError(description: "\(error)")
            }
        }
        let lmtp = makeLMTPServer(settings: settings, accounts: accounts, store: store, metrics: metrics)
        let lmtpEndpoints = try await lmtp?.bind() ?? []
        var metricsAddress: SocketAddress?
        if let metricsEndpoint {
            do {
                metricsAddress = try await metricsEndpoint.bind()
            } catch {
                let address = "\(metricsEndpoint.host):\(metricsEndpoint.port)"
                throw ServeStartupError(description: "cannot listen for metrics on \(address): \(error)")
            }
        }
        let admin = AdminSocket(path: settings.adminSocket, server: server, logger: logger)
        do {
            try await admin.bind()
        } catch {
            throw ServeStartupError(description: "cannot create the admin socket \(settings.adminSocket): \(error)")
        }
        if let identity {
            try handOver(lmtpEndpoints: lmtpEndpoints, to: identity)
            do {
                try identity.become()
            } catch {
                throw ServeStartupError(description: "\(error)")
            }
            logger.notice("serving as \(identity)")
        } else if geteuid() == 0 {
            logger.warning("serving as root (--run-as root): a flaw in the server would give away the whole host")
        }

        let reloader = Reloader(
            options: options,
            canBindPrivilegedPorts: (settings.listen + settings.listenTLS + settings.listenProxy
                + settings.listenTLSProxy).contains { $0.port < 1024 },
            started: settings,
            server: server,
            accounts: accounts,
            store: store,
            metrics: metrics,
            loginHistory: loginHistory,
            logger: logger
        )
        // The database pools start first and stop last: sessions finishing during a graceful
        // shutdown still reach the database.
        var services: [any Service] = backends.databases + [server] + lmtpServices(lmtp) + [admin]
        if let metricsEndpoint { services.append(metricsEndpoint) }
        let group = Signals.group(services, reload: { Task { await reloader.reload() } }, logger: logger)
        let running = Task { try await group.run() }

        for (listener, address) in zip(configuration.listeners, addresses) {
            let kind = (listener.implicitTLS ? "pop3s" : "pop3, STLS") + (listener.proxyProtocol ? ", PROXY" : "")
            say("listening on \(display(address)) (\(kind))")
        }
        for endpoint in lmtpEndpoints {
            say("listening on \(endpoint) (lmtp)")
        }
        if let metricsAddress { say("metrics on http://\(display(metricsAddress))/metrics") }
        say("mail: \(Backends.storeDescription(site))   accounts: \(Backends.accountsDescription(site))")
        if let passwdFile = backends.passwdFile,
            (try? String(contentsOfFile: passwdFile, encoding: .utf8))?.contains(":") != true
        {
            say("no accounts yet: add one with `postoffice user add NAME` (same --config/--passwd-file as serve)")
        }
        try await running.value
    }

    /// The passwd-file provider serve uses (at start and at each reload). Problems found on each
    /// (re)load go to the log as warnings: bad lines, an unreadable file, a file caught half-way
    /// through a rewrite (the last complete copy serves meanwhile). Never a password or hash.
    static func passwdFileAccounts(path: String) -> PasswdFileAccounts {
        let logger = Logger(label: "accounts")
        return PasswdFileAccounts(path: path, onProblem: { problem in logger.warning("\(problem)") })
    }

    static func display(_ address: SocketAddress) -> String {
        let port = address.port.map(String.init) ?? "?"
        let host = address.ipAddress ?? "?"
        return "\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    /// The server's configuration from `settings` (at start and at each reload).
    static func makePOP3Configuration(
        settings: ServerSettings,
        tls: POP3ServerConfiguration.TLSFiles,
        accounts: any AccountProvider,
        store: any MailStore,
        metrics: ServerMetrics,
        loginHistory: LoginHistory
    ) -> POP3ServerConfiguration {
        var limits = POP3Limits()
        limits.idleTimeoutSeconds = Int(settings.idleTimeout.rounded(.up))
        var listeners = settings.listen.map {
            POP3ServerConfiguration.Listener(host: $0.host, port: $0.port, implicitTLS: false)
        }
        listeners += settings.listenTLS.map {
            POP3ServerConfiguration.Listener(host: $0.host, port: $0.port, implicitTLS: true)
        }
        listeners += settings.listenProxy.map {
            POP3ServerConfiguration.Listener(host: $0.host, port: $0.port, implicitTLS: false, proxyProtocol: true)
        }
        listeners += settings.listenTLSProxy.map {
            POP3ServerConfiguration.Listener(host: $0.host, port: $0.port, implicitTLS: true, proxyProtocol: true)
        }
        return POP3ServerConfiguration(
            listeners: listeners,
            tls: tls,
            allowCleartextAuth: settings.allowCleartextAuth,
            apop: settings.apop,
            hostname: hostName(),
            limits: limits,
            authFailureDelay: settings.authFailureDelay,
            shutdownGracePeriod: .milliseconds(Int64(settings.shutdownTimeout * 1000)),
            maximumConnections: settings.maxConnections,
            maximumConnectionsPerClient: settings.maxConnectionsPerIP,
            trustedProxies: settings.trustedProxies,
            trustedNetworks: settings.trustedNetworks,
            banPolicy: settings.banPolicy,
            banFile: settings.site.banFile,
            takeoverAfter: .seconds(settings.takeoverAfter),
            makeMechanism: { makeSASLServerMechanism($0) },
            loginDelaySeconds: settings.loginDelay,
            expiry: settings.expiry,
            loginHistory: loginHistory,
            accountProvider: accounts,
            mailStore: store,
            logger: Logger(label: "pop3"),
            metrics: metrics
        )
    }

    /// The server's metrics, and the Prometheus endpoint when `--metrics` asks for one.
    static func makeMetrics(settings: ServerSettings, logger: Logger) -> (ServerMetrics, MetricsEndpoint?) {
        guard let address = settings.metrics else {
            return (ServerMetrics(factory: NOOPMetricsHandler.instance), nil)
        }
        let registry = PrometheusCollectorRegistry()
        let factory = DescribedPrometheusFactory(registry: registry)
        MetricsSystem.bootstrap(factory)
        let endpoint = MetricsEndpoint(host: address.host, port: address.port, registry: registry, logger: logger)
        return (ServerMetrics(factory: factory), endpoint)
    }

    /// The LMTP listener for the MTA, when `--lmtp` or `[server].lmtp` asks for one.
    static func makeLMTPServer(
        settings: ServerSettings,
        accounts: any AccountProvider,
        store: any MailStore,
        metrics: ServerMetrics
    ) -> LMTPServer? {
        guard !settings.lmtp.isEmpty else { return nil }
        var limits = LMTPLimits()
        if let size = settings.lmtpMaxMessageSize { limits.maximumMessageSize = size }
        return LMTPServer(
            configuration: LMTPServerConfiguration(
                endpoints: settings.lmtp,
                hostname: hostName(),
                limits: limits,
                shutdownGracePeriod: .milliseconds(Int64(settings.shutdownTimeout * 1000)),
                accountProvider: accounts,
                mailStore: store,
                logger: Logger(label: "lmtp"),
                metrics: metrics
            )
        )
    }

    static func lmtpServices(_ lmtp: LMTPServer?) -> [any Service] {
        lmtp.map { [$0] } ?? []
    }

    /// The configured certificate, or one generated at first start beside the data.
    static func tlsFiles(settings: ServerSettings, logger: Logger) throws -> POP3ServerConfiguration.TLSFiles {
        if let certificate = settings.tlsCertificate, let key = settings.tlsKey {
            for path in [certificate, key] where !FileManager.default.isReadableFile(atPath: path) {
                throw ValidationError("cannot read \(path)")
            }
            return .init(certificatePath: certificate, keyPath: key)
        }
        let directory = settings.site.dataDirectory + "/tls"
        let existed = FileManager.default.fileExists(atPath: directory + "/cert.pem")
        let files = try SelfSignedCertificate.ensure(
            in: directory,
            commonName: hostName(),
            extraHostnames: [hostName()]
        )
        if !existed {
            logger.notice(
                "generated a self-signed certificate: clients must trust it explicitly (curl --cacert, a Thunderbird exception)",
                metadata: ["certificate": "\(files.certificatePath)"]
            )
        }
        return files
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}
