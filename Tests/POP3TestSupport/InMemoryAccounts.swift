// Test support: an AccountProvider from a dictionary.
public import Accounts
public import SASL

/// Accounts with cleartext passwords, for tests only.
public struct InMemoryAccounts: AccountProvider {
    public var passwords: [String: String]
    /// Users whose checks fail with a temporary error.
    public var broken: Set<String>

    public init(_ passwords: [String: String], broken: Set<String> = []) {
        self.passwords = passwords
        self.broken = broken
    }

    public func verifyPassword(user: String, password: [UInt8]) async -> AuthenticationResult {
        if broken.contains(user) { return .temporaryFailure("test database down") }
        guard let stored = passwords[user], Array(stored.utf8) == password else { return .invalidCredentials }
        return .success(user: user)
    }

    public func scramCredentials(user: String) async -> SCRAMCredentials? { nil }

    public func apopSecret(user: String) async -> [UInt8]? {
        passwords[user].map { Array($0.utf8) }
    }

    public func accountExists(user: String) async -> Bool { passwords[user] != nil }
}
