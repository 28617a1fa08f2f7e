// Cross-module contract: what the POP3 server asks of an account database.
public import SASL

/// The outcome of a credential check.
public enum AuthenticationResult: Hashable, Sendable {
    /// The credentials are right; `user` is the canonical account name (maildir `%u`).
    case success(user: String)
    /// Unknown user or wrong password: never say which (RFC 3206 `[AUTH]`).
    case invalidCredentials
    /// The account database could not be read, say (RFC 3206 `[SYS/TEMP]`).
    case temporaryFailure(String)
}

/// An account database. Implementations never run hashing on the caller's thread when
/// that thread may be an event loop: verification is `async` and hops off.
public protocol AccountProvider: Sendable {
    /// Check a cleartext password (USER/PASS, SASL PLAIN and LOGIN).
    func verifyPassword(user: String, password: [UInt8]) async -> AuthenticationResult
    /// SCRAM-SHA-256 keys for an account whose stored scheme has them; nil otherwise.
    func scramCredentials(user: String) async -> SCRAMCredentials?
    /// The plaintext-equivalent secret APOP needs (RFC 1939 §7); nil when the scheme has none.
    func apopSecret(user: String) async -> [UInt8]?
    /// Whether the account exists (used by `deliver`).
    func accountExists(user: String) async -> Bool
    /// Whether the account exists, or that the database cannot say now. Delivery over LMTP
    /// needs the difference: "no such user" bounces the message, "cannot tell" makes the
    /// sender's MTA try again later (RFC 2033 §4.2: never lose a message for such a reason).
    func lookUpAccount(user: String) async -> AccountLookup
    /// The account's own `expire_days` and `login_delay` (passwd-file extra fields); empty
    /// when it has none, is unknown, or the database cannot be read (the site's settings apply).
    func settings(user: String) async -> AccountSettings
    /// The distinct settings accounts carry, as the database was last read. Answers at once,
    /// without I/O: the server asks it on the event loop for each connection's CAPA.
    var settingsInUse: AccountSettingsInUse { get }
}

/// What a lookup of an account name found.
public enum AccountLookup: Hashable, Sendable {
    /// The account exists.
    case exists
    /// There is no such account.
    case absent
    /// The account database could not be read; the text says why (never a secret).
    case temporaryFailure(String)
}

extension AccountProvider {
    /// For providers that cannot fail to answer: ``accountExists(user:)``.
    public func lookUpAccount(user: String) async -> AccountLookup {
        await accountExists(user: user) ? .exists : .absent
    }

    /// For providers without per-account settings: none.
    public func settings(user: String) async -> AccountSettings { AccountSettings() }

    /// For providers without per-account settings: none.
    public var settingsInUse: AccountSettingsInUse { AccountSettingsInUse() }
}
