// Per-account settings from the passwd-file's extra fields (Dovecot's `key=value` style):
// `expire_days` (RFC 2449 §6.7 EXPIRE) and `login_delay` (RFC 2449 §6.5 LOGIN-DELAY).

/// How long messages stay on the server (RFC 2449 §6.7 EXPIRE).
public enum Expiry: Hashable, Sendable, CustomStringConvertible {
    /// Messages are never deleted by the server (`EXPIRE NEVER`).
    case never
    /// Messages are deleted once older than this many days; 0 deletes every message at the end
    /// of the session that retrieved it (`EXPIRE 0`).
    case days(Int)

    /// The largest number of days accepted: 100 years. A larger number is a typo, not a policy.
    public static let maximumDays = 36_500

    /// Parses `NEVER` (any case) or a decimal number of days from 0 to ``maximumDays``.
    public init?(parsing text: some StringProtocol) {
        if text.lowercased() == "never" {
            self = .never
            return
        }
        guard !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), text.utf8.count <= 6,
            let days = Int(text), days <= Self.maximumDays
        else { return nil }
        self = .days(days)
    }

    /// `NEVER` or the number of days, as CAPA and the configuration write it.
    public var description: String {
        switch self {
        case .never: return "NEVER"
        case .days(let days): return String(days)
        }
    }

    /// Whether `self` keeps messages for less time than `other` (NEVER is the longest).
    public func isShorter(than other: Expiry) -> Bool {
        switch (self, other) {
        case (.days(let a), .days(let b)): return a < b
        case (.days, .never): return true
        case (.never, _): return false
        }
    }
}

/// What an account's passwd-file line says about it beyond its password: Dovecot's extra fields
/// (the eighth field on, space-separated `key=value` pairs; a `userdb_` prefix is accepted too).
///
/// - `expire_days=N` or `expire_days=NEVER`: the account's retention period (RFC 2449 §6.7).
/// - `login_delay=N`: the least number of seconds between two of its logins (RFC 2449 §6.5).
///
/// `nil` means the site's setting applies. Other extra fields are Dovecot's business and are
/// ignored.
public struct AccountSettings: Hashable, Sendable {
    /// The longest login delay accepted, in seconds: one week.
    public static let maximumLoginDelay = 7 * 24 * 60 * 60

    public var expiry: Expiry?
    public var loginDelaySeconds: Int?

    public init(expiry: Expiry? = nil, loginDelaySeconds: Int? = nil) {
        self.expiry = expiry
        self.loginDelaySeconds = loginDelaySeconds
    }

    /// Parses the extra fields of one line (everything after the seventh `:`; the `accounts`
    /// table's `extra_fields` in PostgreSQL). Returns the settings and a sentence for each value
    /// that is not usable (that setting is then left to the site).
    public static func parse(extraFields text: Substring) -> (AccountSettings, [String]) {
        var settings = AccountSettings()
        var problems: [String] = []
        // The plain key wins over its `userdb_` twin, whatever the order.
        var fromPlainKey: Set<String> = []
        for field in text.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            guard let equals = field.firstIndex(of: "=") else { continue }
            var key = field[..<equals]
            let plain = !key.hasPrefix("userdb_")
            if !plain { key = key.dropFirst("userdb_".count) }
            let value = field[field.index(after: equals)...]
            switch key {
            case "expire_days":
                guard plain || !fromPlainKey.contains("expire_days") else { continue }
                guard let expiry = Expiry(parsing: value) else {
                    problems.append("expire_days must be NEVER or a number of days up to \(Expiry.maximumDays)")
                    continue
                }
                settings.expiry = expiry
                if plain { fromPlainKey.insert("expire_days") }
            case "login_delay":
                guard plain || !fromPlainKey.contains("login_delay") else { continue }
                guard value.utf8.allSatisfy({ (0x30...0x39).contains($0) }), value.utf8.count <= 7,
                    let seconds = Int(value), seconds <= Self.maximumLoginDelay
                else {
                    problems.append("login_delay must be a number of seconds up to \(Self.maximumLoginDelay)")
                    continue
                }
                settings.loginDelaySeconds = seconds
                if plain { fromPlainKey.insert("login_delay") }
            default:
                continue
            }
        }
        return (settings, problems)
    }
}

/// The distinct settings the accounts of a database carry (the server's CAPA before login,
/// RFC 2449 §6.5 and §6.7: the value for "any user").
public struct AccountSettingsInUse: Hashable, Sendable {
    /// Every `expire_days` some account has.
    public var expiries: Set<Expiry>
    /// Every `login_delay` some account has.
    public var loginDelays: Set<Int>

    public init(expiries: Set<Expiry> = [], loginDelays: Set<Int> = []) {
        self.expiries = expiries
        self.loginDelays = loginDelays
    }

    /// What `entries` carry.
    init(_ entries: some Sequence<PasswdEntry>) {
        self.init()
        for entry in entries {
            if let expiry = entry.settings.expiry { self.expiries.insert(expiry) }
            if let delay = entry.settings.loginDelaySeconds { self.loginDelays.insert(delay) }
        }
    }
}
