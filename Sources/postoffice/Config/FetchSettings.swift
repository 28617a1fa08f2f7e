import Fetch
import FileFormats
import Foundation

/// One account as `postoffice fetch` understands it, from flags or an `[[account]]` table,
/// before it is handed to the Fetch engine.
struct FetchAccountSettings: Sendable, Equatable {
    enum TLSMode: String, Sendable, CaseIterable { case implicit, starttls, none }
    enum PasswordSource: Sendable, Equatable {
        case file(String)
        case command(String)
        case environment(String)
    }
    enum Target: Sendable, Equatable {
        case maildir(String)
        case mbox(String)
        case mda(String)

        /// `maildir:DIR`, `mbox:FILE`, `mda:COMMAND`.
        init(parsing text: String) throws {
            guard let colon = text.firstIndex(of: ":") else {
                throw ConfigError("'\(text)' is not a target: use maildir:DIR, mbox:FILE or mda:COMMAND")
            }
            let kind = text[..<colon]
            let value = String(text[text.index(after: colon)...])
            guard !value.isEmpty else { throw ConfigError("'\(text)' names no \(kind) location") }
            switch kind {
            case "maildir": self = .maildir(expandTilde(value))
            case "mbox": self = .mbox(expandTilde(value))
            case "mda": self = .mda(value)
            default: throw ConfigError("'\(kind)' is not a target kind: use maildir:DIR, mbox:FILE or mda:COMMAND")
            }
        }
    }
    enum Trust: Sendable, Equatable {
        case system
        case caFile(String)
        case fingerprint([UInt8])
        case insecure
    }
    enum Retention: Sendable, Equatable {
        case deleteAfterDownload
        case keep
        case keepDays(Int)
    }
    enum Oversize: String, Sendable { case skip, headers }

    var name: String
    var host: String
    var port: Int
    var tls: TLSMode
    var user: String
    var password: PasswordSource?
    /// `auto`, `user`, `apop`, `plain`, `login`, `scram-sha-256`, `xoauth2`, `oauthbearer`.
    var auth: String = "auto"
    /// For XOAUTH2 / OAUTHBEARER: a command printing the access token.
    var tokenCommand: String?
    var target: Target
    var stateFile: String
    var retention: Retention = .deleteAfterDownload
    var deleteWhenDeletedLocally = false
    var maxSize: Int?
    var oversize: Oversize = .skip
    var trust: Trust = .system
    var pipelineWindow: Int = FetchAccount.defaultPipelineWindow
    var timeout: Double = 60
    /// The most SCRAM-SHA-256 iterations a server may ask for (`scram_max_iterations`).
    var scramMaximumIterations: Int = FetchAccount.defaultSCRAMMaximumIterations

    static let authMethods = ["auto", "user", "apop", "plain", "login", "scram-sha-256", "xoauth2", "oauthbearer"]
}

/// `AB:CD:…` or `abcd…` (64 hex digits), optionally prefixed `SHA256:` / `sha256//`, as
/// `openssl x509 -noout -fingerprint -sha256` prints it.
func parseFingerprint(_ text: String) throws -> [UInt8] {
    var hex = text.trimmingCharacters(in: .whitespaces)
    for prefix in ["sha256 Fingerprint=", "SHA256 Fingerprint=", "SHA256:", "sha256:", "sha256//"]
    where hex.hasPrefix(prefix) {
        hex.removeFirst(prefix.count)
    }
    hex.removeAll { $0 == ":" }
    guard hex.count == 64, hex.allSatisfy({ $0.isASCII && $0.isHexDigit }) else {
        throw ConfigError("'\(text)' is not a SHA-256 fingerprint (64 hex digits, colons optional)")
    }
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)  // safe: checked isHexDigit above
        index = next
    }
    return bytes
}

func expandTilde(_ path: String) -> String {
    guard path.hasPrefix("~/") else { return path }
    return XDG.home + path.dropFirst()
}

/// XDG base directories (the fetch config, state and the downloaded mail live there).
enum XDG {
    static var home: String { ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory() }

    private static func directory(_ variable: String, _ fallback: String) -> String {
        if let value = ProcessInfo.processInfo.environment[variable], value.hasPrefix("/") { return value }
        return home + "/" + fallback
    }

    static var configHome: String { directory("XDG_CONFIG_HOME", ".config") }
    static var dataHome: String { directory("XDG_DATA_HOME", ".local/share") }
    static var stateHome: String { directory("XDG_STATE_HOME", ".local/state") }

    /// `~/.config/postoffice/fetch.toml`
    static var defaultFetchConfig: String { configHome + "/postoffice/fetch.toml" }
    /// `~/.local/share/postoffice/mail`: one Maildir for every account, the one `postoffice mail`
    /// reads by default. Local names derive from (account, UIDL), so accounts never collide.
    static func defaultMaildir(account: String) -> String { dataHome + "/postoffice/mail" }
    /// `~/.local/state/postoffice/<account>.state`
    static func defaultState(account: String) -> String { stateHome + "/postoffice/" + account + ".state" }
}

extension FetchAccountSettings {
    /// Reads one `[[account]]` table.
    init(section: inout ConfigSection, index: Int) throws {
        let name = try section.string("name") ?? "account\(index + 1)"
        guard let host = try section.string("host") else { throw ConfigError("\(section.name) has no host") }
        guard let user = try section.string("user") else { throw ConfigError("\(section.name) has no user") }
        let tlsText = try section.string("tls") ?? "implicit"
        guard let tls = TLSMode(rawValue: tlsText) else {
            throw ConfigError("\(section.name).tls must be implicit, starttls or none, not '\(tlsText)'")
        }
        let port = try section.int("port") ?? (tls == .implicit ? 995 : 110)
        guard (1...65535).contains(port) else { throw ConfigError("\(section.name).port \(port) is out of range") }
        let target = try section.string("to").map(Target.init(parsing:)) ?? .maildir(XDG.defaultMaildir(account: name))
        self.init(
            name: name,
            host: host,
            port: port,
            tls: tls,
            user: user,
            target: target,
            stateFile: expandTilde(try section.string("state") ?? XDG.defaultState(account: name))
        )
        var sources: [PasswordSource] = []
        if let v = try section.string("password_file") { sources.append(.file(expandTilde(v))) }
        if let v = try section.string("password_command") { sources.append(.command(v)) }
        if let v = try section.string("password_env") { sources.append(.environment(v)) }
        if try section.string("password") != nil {
            throw ConfigError(
                "\(section.name): a password is never stored in the config; use password_file, password_command or password_env"
            )
        }
        guard sources.count <= 1 else {
            throw ConfigError("\(section.name): give one of password_file, password_command, password_env")
        }
        password = sources.first
        if let v = try section.string("auth") {
            guard Self.authMethods.contains(v.lowercased()) else {
                throw ConfigError(
                    "\(section.name).auth '\(v)' is not one of \(Self.authMethods.joined(separator: ", "))"
                )
            }
            auth = v.lowercased()
        }
        tokenCommand = try section.string("token_command")
        let keep = try section.bool("keep") ?? false
        let keepDays = try section.int("keep_days")
        switch (keep, keepDays) {
        case (true, .some): throw ConfigError("\(section.name): keep and keep_days exclude each other")
        case (true, nil): retention = .keep
        case (false, .some(let days)):
            guard (0...100_000).contains(days) else { throw ConfigError("\(section.name).keep_days must be 0–100000") }
            retention = .keepDays(days)
        case (false, nil): retention = .deleteAfterDownload
        }
        deleteWhenDeletedLocally = try section.bool("delete_when_deleted_locally") ?? false
        maxSize = try section.int("max_size")
        if let v = try section.string("oversize") {
            guard let o = Oversize(rawValue: v) else {
                throw ConfigError("\(section.name).oversize must be skip or headers")
            }
            oversize = o
        }
        var trusts: [Trust] = []
        if let v = try section.string("ca_file") { trusts.append(.caFile(expandTilde(v))) }
        if let v = try section.string("fingerprint") { trusts.append(.fingerprint(try parseFingerprint(v))) }
        if try section.bool("insecure") == true { trusts.append(.insecure) }
        guard trusts.count <= 1 else {
            throw ConfigError("\(section.name): give one of ca_file, fingerprint, insecure")
        }
        trust = trusts.first ?? .system
        if let v = try section.int("pipeline_window") {
            guard (1...1000).contains(v) else { throw ConfigError("\(section.name).pipeline_window must be 1–1000") }
            pipelineWindow = v
        }
        if let v = try section.seconds("timeout") {
            guard v >= 1 else { throw ConfigError("\(section.name).timeout must be at least 1 second") }
            timeout = v
        }
        if let v = try section.int("scram_max_iterations") {
            guard FetchAccount.scramIterationRange.contains(v) else {
                throw ConfigError(
                    "\(section.name).scram_max_iterations must be \(FetchAccount.scramIterationRangeText)"
                )
            }
            scramMaximumIterations = v
        }
        try section.rejectUnknownKeys()
    }
}

/// The `[fetch]` table and the `[[account]]` list of a fetch configuration file.
struct FetchFileSettings: Sendable, Equatable {
    var accounts: [FetchAccountSettings]
    var interval: Double?

    init(path: String) throws {
        try self.init(document: try loadTOML(path: path), path: path)
    }

    /// The settings of `text`, as if read from `path` (to check an edit before it is written).
    init(text: String, path: String) throws {
        do {
            try self.init(document: try TOML.parse(text), path: path)
        } catch let error as TOMLError {
            throw ConfigError("\(path): \(error)")
        }
    }

    private init(document: TOMLTable, path: String) throws {
        var accounts: [FetchAccountSettings] = []
        switch document["account"] {
        case nil: break
        case .array(let tables):
            for (index, value) in tables.enumerated() {
                guard case .table(let table) = value else {
                    throw ConfigError("\(path): account must be [[account]] tables")
                }
                var section = ConfigSection(table: table, name: "\(path) [[account]] #\(index + 1)")
                accounts.append(try FetchAccountSettings(section: &section, index: index))
            }
        case .some: throw ConfigError("\(path): account must be [[account]] tables")
        }
        let names = accounts.map(\.name)
        if let dup = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
            throw ConfigError("\(path): two accounts are named '\(dup)'")
        }
        self.accounts = accounts
        if case .table(let table) = document["fetch"] {
            var section = ConfigSection(table: table, name: "\(path) [fetch]")
            interval = try section.seconds("interval")
            try section.rejectUnknownKeys()
        }
    }
}
