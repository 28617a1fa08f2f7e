import Accounts
import ArgumentParser
import Foundation
import Glibc
import LMTPCore
import LMTPServer
import Logging
import MailStore
import NIOCore
import POP3Core
import POP3Server
import SASL
import ServiceLifecycle

/// `postoffice serve`: the POP3 server.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve Maildir mailboxes over POP3 (STLS on the plain port, implicit TLS on the TLS port)."
    )

    @OptionGroup var options: ServeOptions

    func run() async throws {
        // Before anything starts NIO's shared event loops: one loop per processor this process
        // may run on (NIO counts the machine's), and as many descriptors as the hard limit allows.
        NIOSingletons.groupLoopCountSuggestion = ProcessorCount.available
        ConnectionLimit.raiseFileDescriptorLimit()
        let settings: ServerSettings
        do {
            settings = try options.resolve(canBindPrivilegedPorts: geteuid() == 0)
            _ = try LoggingSetup.bootstrap(level: settings.logLevel)
        } catch {
            throw ValidationError("\(error)")
        }
        let logger = Logger(label: "postoffice")
        do {
            try await Self.serve(settings: settings, logger: logger)
        } catch let error as POP3Server.StartupError {
            Console.printError("the server could not start: \(error.description)")
            throw ExitCode(2)
        } catch let error as LMTPServer.StartupError {
            Console.printError("the server could not start: \(error.description)")
            throw ExitCode(2)
        }
    }

    static func serve(settings: ServerSettings, logger: Logger) async throws {
        let site = settings.site
        let store: MaildirStore
        do {
            store = try MaildirStore(template: site.maildirTemplate, takeoverAfter: .seconds(settings.takeoverAfter))
        } catch {
            throw ValidationError("the maildir template is not usable: \(error)")
        }
        try FileManager.default.createDirectory(atPath: site.dataDirectory, withIntermediateDirectories: true)
        let tls = try tlsFiles(settings: settings, logger: logger)
        if !FileManager.default.fileExists(atPath: site.passwdFile) {
            // An empty passwd-file: the server runs, and `user add` fills it.
            _ = FileManager.default.createFile(
                atPath: site.passwdFile,
                contents: nil,
                attributes: [.posixPermissions: 0o600]
            )
        }
        let accounts = PasswdFileAccounts(path: site.passwdFile)

        var limits = POP3Limits()
        limits.idleTimeoutSeconds = Int(settings.idleTimeout.rounded(.up))
        var listeners = settings.listen.map {
            POP3ServerConfiguration.Listener(host: $0.host, port: $0.port, implicitTLS: false)
        }
        listeners += settings.listenTLS.map {
            POP3ServerConfiguration.Listener(host: $0.host, port: $0.port, implicitTLS: true)
        }
        let expire: Int?? = settings.expire.map { $0 == "NEVER" ? .some(nil) : .some(Int($0)) } ?? nil
        var configuration = POP3ServerConfiguration(
            listeners: listeners,
            tls: tls,
            allowCleartextAuth: settings.allowCleartextAuth,
            apop: settings.apop,
            hostname: hostName(),
            limits: limits,
            authFailureDelay: settings.authFailureDelay,
            shutdownGracePeriod: .milliseconds(Int64(settings.shutdownTimeout * 1000)),
            maximumConnections: settings.maxConnections,
            takeoverAfter: .seconds(settings.takeoverAfter),
            makeMechanism: { makeSASLServerMechanism($0) },
            loginDelaySeconds: settings.loginDelay,
            expireDays: expire,
            accountProvider: accounts,
            mailStore: store,
            logger: Logger(label: "pop3")
        )

        let server = POP3Server(configuration: configuration)
        let startup = Task { try await server.boundAddresses() }
        var lmtp = makeLMTPServer(settings: settings, accounts: accounts, store: store)
        let group = Signals.group([server] + lmtpServices(lmtp), reload: nil, logger: logger)
        var running = Task { try await group.run() }
        var addresses: [SocketAddress]
        do {
            addresses = try await startup.value
        } catch {
            // The embedded default prefers 110/995 when it may bind them; when they are taken
            // it falls back to 1110/1995 rather than failing.
            guard settings.usesDefaultListeners, listeners.contains(where: { $0.port == 110 }) else {
                _ = try? await running.value
                throw error
            }
            _ = try? await running.value
            logger.notice("ports 110/995 are not available (\(error)); using 1110 and 1995")
            configuration.listeners = [
                .init(host: "127.0.0.1", port: 1110, implicitTLS: false),
                .init(host: "127.0.0.1", port: 1995, implicitTLS: true),
            ]
            let retryServer = POP3Server(configuration: configuration)
            lmtp = makeLMTPServer(settings: settings, accounts: accounts, store: store)
            let retry = Signals.group([retryServer] + lmtpServices(lmtp), reload: nil, logger: logger)
            running = Task { try await retry.run() }
            addresses = try await retryServer.boundAddresses()
        }
        // Both services are up (or one failed) before anything is announced.
        let lmtpEndpoints = try await lmtp?.boundEndpoints() ?? []
        let plainCount = configuration.listeners.filter { !$0.implicitTLS }.count
        for (index, address) in addresses.enumerated() {
            let kind = index < plainCount ? "pop3, STLS" : "pop3s"
            let port = address.port.map(String.init) ?? "?"
            let host = address.ipAddress ?? "?"
            say("listening on \(host.contains(":") ? "[\(host)]" : host):\(port) (\(kind))")
        }
        for endpoint in lmtpEndpoints {
            say("listening on \(endpoint) (lmtp)")
        }
        say("mail: \(site.maildirTemplate)   accounts: \(site.passwdFile)")
        if (try? String(contentsOfFile: site.passwdFile, encoding: .utf8))?.contains(":") != true {
            say("no accounts yet: add one with `postoffice user add NAME` (same --config/--passwd-file as serve)")
        }
        try await running.value
    }

    /// The LMTP listener for the MTA, when `--lmtp` or `[server].lmtp` asks for one.
    static func makeLMTPServer(settings: ServerSettings, accounts: any AccountProvider, store: any MailStore)
        -> LMTPServer?
    {
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
                logger: Logger(label: "lmtp")
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
