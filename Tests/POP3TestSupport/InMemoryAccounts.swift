// Test support: an AccountProvider from a dictionary.
public import Accounts
public import SASL

/// Accounts with cleartext passwords, for tests only.
public struct InMemoryAccounts: AccountProvider {
    public var passwords: [String: String]
    /// Users whose checks fail with a temporary error.
    public var broken: Set<String>
    /// Users whose stored scheme keeps no plaintext-equivalent secret (APOP impossible).
    public var withoutAPOPSecret: Set<String>
    /// Per-account `expire_days` and `login_delay`, as passwd-file extra fields give them.
    public var accountSettings: [String: AccountSettings]

    public init(
        _ passwords: [String: String],
        broken: Set<String> = [],
        withoutAPOPSecret: Set<String> = [],
        settings: [String: AccountSettings] = [:]
    ) {
        self.passwords = passwords
        self.broken = broken
        self.withoutAPOPSecret = withoutAPOPSecret
        self.accountSettings = settings
    }

    public func verifyPassword(user: String, password: [UInt8]) async -> AuthenticationResult {
        if broken.contains(user) { return .temporaryFailure("test database down") }
        guard let stored = passwords[user], Array(stored.utf8) == password else { return .invalidCredentials }
        return .success(user: user)
    }

    /// SCRAM-SHA-256 keys derived from the password (salt from the user name, 4096 rounds).
    public func scramCredentials(user: String) async -> SCRAMCredentials? {
        guard !broken.contains(user), let password = passwords[user] else { return nil }
        return SCRAM.deriveCredentials(password: password, salt: Array("salt-\(user)".utf8), iterations: 4096)
    }

    public func apopSecret(user: String) async -> [UInt8]? {
        guard !withoutAPOPSecret.contains(user) else { return nil }
        return passwords[user].map { Array($0.utf8) }
    }

    public func accountExists(user: String) async -> Bool { passwords[user] != nil }

    public func settings(user: String) async -> AccountSettings { accountSettings[user] ?? AccountSettings() }

    public var settingsInUse: AccountSettingsInUse {
        var inUse = AccountSettingsInUse()
        for settings in accountSettings.values {
            if let expiry = settings.expiry { inUse.expiries.insert(expiry) }
            if let delay = settings.loginDelaySeconds { inUse.loginDelays.insert(delay) }
        }
        return inUse
    }
}
