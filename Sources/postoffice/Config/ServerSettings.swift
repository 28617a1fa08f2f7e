import Accounts
import ArgumentParser
import FileFormats
import Foundation
import LMTPServer
import POP3Server
import PostgresStore
import ProxyProtocol

/// A listening address, `HOST:PORT` or `[IPv6]:PORT`.
struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:110`, `[::1]:995`, `*:110` (all IPv4 addresses), `localhost:1110`.
    init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        self.host = host == "*" ? "0.0.0.0" : String(host)
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

extension ListenAddress: ExpressibleByArgument {
    init?(argument: String) { self.init(parsing: argument) }
    static var defaultCompletionKind: CompletionKind { .default }
}

/// Where accounts and mail live: shared by `serve`, `deliver` and `user`.
struct SiteSettings: Sendable, Equatable {
    /// Holds the default passwd-file, Maildirs and the generated certificate.
    var dataDirectory: String
    /// `%u` is the user name (also `%n`, `%d`, `%%`).
    var maildirTemplate: String
    var passwdFile: String
    /// `postgresql://…` when mail is kept in PostgreSQL (`--store`, `store`); nil for Maildirs.
    var storeURL: String?
    /// `postgresql://…` when accounts are kept in PostgreSQL (`--accounts`, `accounts`); nil
    /// for the passwd-file.
    var accountsURL: String?

    static let defaultDataDirectory = "postoffice-data"

    /// `postgresql://…` or `maildir:TEMPLATE`, from `--store` or the `store` key.
    mutating func setStore(_ text: String, origin: String) throws {
        if PostgresURL.isPostgresURL(text) {
            storeURL = text
        } else if text.hasPrefix("maildir:") {
            storeURL = nil
            maildirTemplate = String(text.dropFirst("maildir:".count))
        } else {
            throw ConfigError("\(origin) must be postgresql://… or maildir:TEMPLATE")
        }
    }

    static func defaults(dataDirectory: String = defaultDataDirectory) -> SiteSettings {
        SiteSettings(
            dataDirectory: dataDirectory,
            maildirTemplate: "\(dataDirectory)/mail/%u/Maildir",
            passwdFile: "\(dataDirectory)/passwd"
        )
    }
}

/// Everything `postoffice serve` runs with, after defaults, the config file and flags.
struct ServerSettings: Sendable, Equatable {
    var site: SiteSettings
    var listen: [ListenAddress]
    var listenTLS: [ListenAddress]
    /// Plain listeners that require a PROXY header from a trusted proxy (`--listen-proxy`).
    var listenProxy: [ListenAddress] = []
    /// Implicit-TLS listeners that require a PROXY header before TLS (`--listen-tls-proxy`).
    var listenTLSProxy: [ListenAddress] = []
    /// Networks whose proxies may send PROXY headers (`--trusted-proxy`).
    var trustedProxies: [IPNetwork] = []
    /// Networks exempt from bans and the per-address cap (`--trusted-network`).
    var trustedNetworks: [IPNetwork] = []
    /// Connections at once per client address (IPv6: per /64); nil turns the cap off.
    var maxConnectionsPerIP: Int? = POP3ServerConfiguration.defaultMaximumConnectionsPerClient
    /// Failed logins within `banWindow` that ban an address or a user name; 0 turns bans off.
    var banAfter = 10
    var banWindow: Double = 600
    var banTime: Double = 900
    /// Whether the listeners are the embedded default (then 110/995 fall back to 1110/1995).
    var usesDefaultListeners: Bool
    var tlsCertificate: String?
    var tlsKey: String?
    /// First delay after a failed login, seconds; 0 turns delays off (test rigs).
    var authFailureDelay: Double = 2
    /// Cleartext authentication on connections that are neither TLS nor loopback.
    var allowCleartextAuth = false
    var apop = false
    /// RFC 1939 §3: at least 10 minutes.
    var idleTimeout: Double = 600
    /// A session silent for this long is taken over by a new login to the same maildrop.
    var takeoverAfter: Double = 60
    /// How long SIGTERM waits for sessions to finish.
    var shutdownTimeout: Double = 10
    /// Sessions served at once; nil: as many as the descriptor limit allows
    /// (`ConnectionLimit.default`).
    var maxConnections: Int?
    /// Seconds between two logins of an account (RFC 2449 §6.5 LOGIN-DELAY), enforced and
    /// advertised; an account's `login_delay=` extra field overrides it.
    var loginDelay: Int?
    /// The retention period (RFC 2449 §6.7 EXPIRE); an account's `expire_days=` overrides it.
    var expiry: Expiry?
    var logLevel: String = "info"
    /// LMTP listeners for the MTA (`--lmtp`, `[server].lmtp`); none by default.
    var lmtp: [LMTPServerConfiguration.Endpoint] = []
    /// The LMTP size limit in bytes (`[server].lmtp_max_message_size`); LMTPLimits' default if nil.
    var lmtpMaxMessageSize: Int?
    /// Whom a root `serve` becomes after binding (`--run-as`, `[server].run_as`).
    var runAs: RunAs?
    /// The Prometheus endpoint's listener (`--metrics`, `[server].metrics`); none by default.
    var metrics: ListenAddress?
    /// The admin socket of `who` and `kick` (`--admin-socket`, `[server].admin_socket`).
    var adminSocket: String = SiteSettings.defaults().dataDirectory + "/" + AdminSocketOption.defaultName

    /// The ban policy, or nil when bans are off.
    var banPolicy: BanPolicy? {
        guard banAfter > 0 else { return nil }
        return BanPolicy(failures: banAfter, window: Int(banWindow.rounded(.up)), banTime: Int(banTime.rounded(.up)))
    }
}

extension SiteSettings {
    /// Where the server keeps its bans (`postoffice ban` reads it).
    var banFile: String { "\(dataDirectory)/bans" }
}

/// `--admin-socket PATH`: taken by `serve`, `who` and `kick`; beside the data by default.
struct AdminSocketOption: ParsableArguments {
    static let defaultName = "admin.sock"

    @Option(name: .customLong("admin-socket"), help: "The admin socket of who/kick (default: DATA_DIR/admin.sock).")
    var adminSocket: String?

    func resolve(section: inout ConfigSection?, site: SiteSettings) throws -> String {
        let fromFile = try section?.string("admin_socket")
        return adminSocket ?? fromFile ?? site.dataDirectory + "/" + Self.defaultName
    }
}

/// `--expire-days N|NEVER` (`expire_days` under `[server]`): the site's retention period, taken
/// by `serve` (RFC 2449 §6.7 EXPIRE) and `expire`.
struct ExpireDaysOption: ParsableArguments {
    @Option(
        name: .customLong("expire-days"),
        help:
            "Delete messages older than N days (at the end of a session that retrieved them, and by `expire`); 0: delete once retrieved; NEVER."
    )
    var expireDays: String?

    func resolve(section: inout ConfigSection?) throws -> Expiry? {
        // Read (and check) the file's key even when the flag overrides it.
        let fromFile = try section?.expiry("expire_days")
        if let expireDays {
            guard let expiry = Expiry(parsing: expireDays) else {
                throw ConfigError(
                    "--expire-days: '\(expireDays)' is not NEVER or a number of days up to \(Expiry.maximumDays)"
                )
            }
            return expiry
        }
        return fromFile
    }
}

/// `--config`, `--maildir`, `--passwd-file`: the site options of `serve`, `deliver` and `user`.
struct SiteOptions: ParsableArguments {
    @Option(name: .long, help: "A TOML configuration file (see README).")
    var config: String?

    @Option(name: .long, help: "Maildir path template; %u is the user name (e.g. '/var/mail/%u/Maildir').")
    var maildir: String?

    @Option(name: .customLong("passwd-file"), help: "Accounts in Dovecot's passwd-file format.")
    var passwdFile: String?

    @Option(
        name: .long,
        help: "Where mail is kept: postgresql://USER@HOST:PORT/DB (nodes sharing one database), or maildir:TEMPLATE."
    )
    var store: String?

    @Option(name: .long, help: "Accounts in PostgreSQL instead of a passwd-file: postgresql://USER@HOST:PORT/DB.")
    var accounts: String?

    /// The `[server]` table of the config file, if any.
    func loadServerSection() throws -> ConfigSection? {
        guard let config else { return nil }
        let document = try loadTOML(path: config)
        let known: Set<String> = ["server", "account", "fetch", "mail"]
        for key in document.keys where !known.contains(key) {
            throw ConfigError("\(config): unknown table or key '\(key)' (expected [server], [fetch] or [[account]])")
        }
        switch document["server"] {
        case nil: return ConfigSection(table: TOMLTable(), name: "[server]")
        case .table(let table): return ConfigSection(table: table, name: "[server]")
        case let other?: throw ConfigError("\(config): server must be a table, not \(other.typeName)")
        }
    }

    /// Site settings: embedded defaults, then the config file, then flags.
    func resolveSite(section: inout ConfigSection?) throws -> SiteSettings {
        var site = SiteSettings.defaults(
            dataDirectory: try section?.string("data_dir") ?? SiteSettings.defaultDataDirectory
        )
        if let v = try section?.string("maildir") { site.maildirTemplate = v }
        if let v = try section?.string("passwd_file") { site.passwdFile = v }
        if let v = try section?.string("store") { try site.setStore(v, origin: "[server].store") }
        if let v = try section?.string("accounts") { site.accountsURL = v }
        // Flags last: they override the file.
        if let maildir { site.maildirTemplate = maildir }
        if let passwdFile { site.passwdFile = passwdFile }
        if let store { try site.setStore(store, origin: "--store") }
        if let accounts { site.accountsURL = accounts }
        if let accountsURL = site.accountsURL, !PostgresURL.isPostgresURL(accountsURL) {
            throw ConfigError("accounts must be a postgresql:// URL (or use a passwd-file)")
        }
        guard site.maildirTemplate.contains("%u") || site.maildirTemplate.contains("%n") else {
            throw ConfigError(
                "the maildir template '\(site.maildirTemplate)' has no %u: every user would share one Maildir"
            )
        }
        return site
    }

    func resolveSite() throws -> SiteSettings {
        var section = try loadServerSection()
        return try resolveSite(section: &section)
    }
}
