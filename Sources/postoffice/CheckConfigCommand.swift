import Accounts
import ArgumentParser
import Foundation
import Glibc
import Logging
import MailStore
import POP3Server

/// `postoffice check-config`: the settings `serve` would run with, and every problem found.
struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Print the settings `serve` would run with (same options) and every problem found; exit 1 if any."
    )

    @OptionGroup var options: ServeOptions

    func run() async throws {
        let settings: ServerSettings
        do {
            settings = try options.resolve(canBindPrivilegedPorts: geteuid() == 0)
        } catch {
            say("problem: \(error)")
            say("1 problem found (the settings could not be resolved)")
            throw ExitCode(1)
        }
        for (key, value) in Self.effectiveSettings(settings) {
            say("\(key) = \(value)")
        }
        let problems = await Self.problems(settings)
        for problem in problems { say("problem: \(problem)") }
        guard problems.isEmpty else {
            say("\(problems.count) problem\(problems.count == 1 ? "" : "s") found")
            throw ExitCode(1)
        }
        say("no problems found")
    }

    /// Every setting, as `[server]` keys spell them.
    static func effectiveSettings(_ settings: ServerSettings) -> [(String, String)] {
        let site = settings.site
        func list(_ items: [some CustomStringConvertible]) -> String {
            "[" + items.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        }
        return [
            ("data_dir", site.dataDirectory),
            ("maildir", site.maildirTemplate),
            (
                "passwd_file",
                site.passwdFile + (site.accountsURL == nil ? "" : " (not used: accounts are in PostgreSQL)")
            ),
            ("store", site.storeURL == nil ? "(the Maildirs above)" : Backends.storeDescription(site)),
            ("accounts", site.accountsURL == nil ? "(the passwd-file above)" : Backends.accountsDescription(site)),
            ("listen", list(settings.listen) + (settings.usesDefaultListeners ? " (the default)" : "")),
            ("listen_tls", list(settings.listenTLS)),
            ("listen_proxy", list(settings.listenProxy)),
            ("listen_tls_proxy", list(settings.listenTLSProxy)),
            ("trusted_proxy", list(settings.trustedProxies)),
            ("trusted_network", list(settings.trustedNetworks)),
            ("lmtp", list(settings.lmtp)),
            ("tls_cert", settings.tlsCertificate ?? "(generated in \(site.dataDirectory)/tls)"),
            ("tls_key", settings.tlsKey ?? "(generated in \(site.dataDirectory)/tls)"),
            ("run_as", runAsDescription(settings)),
            ("metrics", settings.metrics.map { "http://\($0)/metrics" } ?? "(off)"),
            ("admin_socket", settings.adminSocket),
            ("auth_failure_delay", "\(settings.authFailureDelay)"),
            ("allow_cleartext_auth", "\(settings.allowCleartextAuth)"),
            ("apop", "\(settings.apop)"),
            ("idle_timeout", "\(settings.idleTimeout)"),
            ("takeover_after", "\(settings.takeoverAfter)"),
            ("shutdown_timeout", "\(settings.shutdownTimeout)"),
            (
                "max_connections",
                settings.maxConnections.map(String.init) ?? "(\(ConnectionLimit.default), from the descriptor limit)"
            ),
            ("max_connections_per_ip", settings.maxConnectionsPerIP.map(String.init) ?? "0 (no cap)"),
            ("ban_after", settings.banAfter == 0 ? "0 (no bans)" : "\(settings.banAfter)"),
            ("ban_window", "\(settings.banWindow)"),
            ("ban_time", "\(settings.banTime)"),
            ("login_delay", settings.loginDelay.map(String.init) ?? "(none; accounts' login_delay= apply)"),
            ("expire_days", settings.expiry.map(\.description) ?? "(none; accounts' expire_days= apply)"),
            ("log_level", settings.logLevel),
        ]
    }

    private static func runAsDescription(_ settings: ServerSettings) -> String {
        if let runAs = settings.runAs { return runAs.description }
        guard geteuid() == 0 else { return "(not root: serves as uid \(geteuid()))" }
        return ServiceIdentity.defaultIdentity(dataDirectory: settings.site.dataDirectory).map {
            "(default) \($0)"
        } ?? "(none: there is no '\(ServiceIdentity.defaultUserName)' user)"
    }

    /// Every problem `serve` would stop at, or that would hurt it later.
    static func problems(_ settings: ServerSettings) async -> [String] {
        var problems: [String] = []
        let site = settings.site
        var identity: ServiceIdentity?
        do {
            identity = try ServeCommand.identityToServeAs(settings: settings)
        } catch {
            problems.append("\(error)")
        }
        do {
            // The store and accounts `serve` would use, and the schema of any database.
            try await Backends(site: site, takeoverAfter: .seconds(settings.takeoverAfter))
                .checkSchemas(logger: Logger(label: "postgres"))
        } catch {
            problems.append("\(error)")
        }
        let files = FileManager.default
        // Accounts in PostgreSQL: no passwd-file is read.
        if site.accountsURL == nil {
            if files.fileExists(atPath: site.passwdFile) {
                if let problem = SecretFilePermissions.problem(path: site.passwdFile, what: "passwd-file") {
                    problems.append(problem)
                }
                if let identity, !SecretFilePermissions.readable(path: site.passwdFile, by: identity) {
                    problems.append(
                        "the passwd-file \(site.passwdFile) is not readable by \(identity.userName): run `chgrp \(identity.groupName) \(site.passwdFile) && chmod 0640 \(site.passwdFile)`"
                    )
                }
                problems += await PasswdFileAccounts(path: site.passwdFile).problems()
            } else {
                problems.append(
                    "there is no passwd-file \(site.passwdFile) yet (serve creates it empty; add accounts with `postoffice user add`)"
                )
            }
        }
        if let certificate = settings.tlsCertificate, let key = settings.tlsKey {
            var readable = true
            for path in [certificate, key] where !files.isReadableFile(atPath: path) {
                problems.append("cannot read \(path)")
                readable = false
            }
            if let problem = SecretFilePermissions.problem(path: key, what: "TLS key") { problems.append(problem) }
            if readable {
                do {
                    try POP3Server.checkTLS(.init(certificatePath: certificate, keyPath: key))
                } catch {
                    problems.append("the certificate \(certificate) and key \(key) cannot be used: \(error)")
                }
            }
            if let identity {
                for path in [certificate, key] where !SecretFilePermissions.readable(path: path, by: identity) {
                    problems.append(
                        "\(path) is not readable by \(identity.userName): a reload (SIGHUP) cannot load a renewed certificate; run `chgrp \(identity.groupName) \(path) && chmod 0640 \(path)`"
                    )
                }
            }
        }
        if site.maildirTemplate.hasPrefix(site.dataDirectory + "/"), let status = FileStatus(path: site.dataDirectory),
            let identity, status.uid != identity.uid
        {
            problems.append(
                "the data directory \(site.dataDirectory) belongs to uid \(status.uid), not \(identity.userName): the server cannot create Maildirs in it; run `chown \(identity.userName):\(identity.groupName) \(site.dataDirectory)`"
            )
        }
        return problems
    }
}
