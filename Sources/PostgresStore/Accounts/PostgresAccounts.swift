// Accounts in PostgreSQL: the alternative to the passwd-file, with the same password schemes.
public import Accounts
import FileIO
import Logging
import MailCore
import NIOConcurrencyHelpers
import PostgresNIO
public import SASL

/// An `AccountProvider` over the `accounts` table (see ``Schema``), and the changes
/// `postoffice user …` makes to it.
///
/// Passwords are stored as a passwd-file stores them (`{SCHEME}data`, made by
/// `PasswordHasher`), and checked by the same code (`PasswordCheck`): the same schemes, the
/// same cost for an unknown user, the hashing off the caller's thread. Every node sees a change
/// at once. A database that cannot be reached answers "temporary failure", never "no such
/// user", so LMTP defers mail rather than bouncing it.
///
/// Per-account `expire_days` and `login_delay` are the passwd-file's extra fields, kept in the
/// `extra_fields` column in the same syntax. The distinct settings in use (which the server
/// needs, without I/O, for every CAPA) are read again at most once per
/// ``settingsRefreshInterval``, after a login asks.
public final class PostgresAccounts: AccountProvider {
    public let database: MailDatabase

    /// How long the settings in use, as last read, are trusted.
    public static let settingsRefreshInterval: Duration = .seconds(60)

    private struct SettingsCache: Sendable {
        var inUse = AccountSettingsInUse()
        var lastRead: ContinuousClock.Instant?
        var reading = false
    }

    private let settingsCache = NIOLockedValueBox(SettingsCache())

    public init(database: MailDatabase) {
        self.database = database
    }

    // MARK: - Per-account settings

    public var settingsInUse: AccountSettingsInUse {
        settingsCache.withLockedValue { $0.inUse }
    }

    public func settings(user: String) async -> AccountSettings {
        guard UserName.isValid(user) else { return AccountSettings() }
        do {
            let rows = try await database.rows("SELECT extra_fields FROM accounts WHERE name = \(user)")
            guard let row = rows.first else { return AccountSettings() }
            return self.parse(try row.decode(String.self), user: user)
        } catch {
            database.logger.warning("reading the settings of \(user) failed: \(DatabaseFailure(error))")
            return AccountSettings()
        }
    }

    /// Every account and its own settings (`postoffice expire`).
    public func allSettings() async throws -> [String: AccountSettings] {
        do {
            var all: [String: AccountSettings] = [:]
            for row in try await database.rows("SELECT name, extra_fields FROM accounts") {
                let (name, fields) = try row.decode((String, String).self)
                all[name] = self.parse(fields, user: name)
            }
            return all
        } catch {
            throw DatabaseFailure(error)
        }
    }

    /// Reads the distinct settings accounts carry, if the last read is older than
    /// ``settingsRefreshInterval`` and no read is running.
    func refreshSettingsInUseIfDue() async {
        let now = ContinuousClock.now
        let due = settingsCache.withLockedValue { cache in
            guard !cache.reading, cache.lastRead.map({ now - $0 >= Self.settingsRefreshInterval }) ?? true else {
                return false
            }
            cache.reading = true
            return true
        }
        guard due else { return }
        var inUse = AccountSettingsInUse()
        var read = false
        do {
            let rows = try await database.rows("SELECT DISTINCT extra_fields FROM accounts WHERE extra_fields <> ''")
            for row in rows {
                let settings = self.parse(try row.decode(String.self), user: nil)
                if let expiry = settings.expiry { inUse.expiries.insert(expiry) }
                if let delay = settings.loginDelaySeconds { inUse.loginDelays.insert(delay) }
            }
            read = true
        } catch {
            database.logger.warning("reading the accounts' settings failed: \(DatabaseFailure(error))")
        }
        settingsCache.withLockedValue { cache in
            cache.reading = false
            if read {
                cache.inUse = inUse
                cache.lastRead = now
            }
        }
    }

    private func parse(_ fields: String, user: String?) -> AccountSettings {
        let (settings, problems) = AccountSettings.parse(extraFields: Substring(fields))
        for problem in problems {
            database.logger.warning("account \(user ?? "(settings in use)") in the database: \(problem)")
        }
        return settings
    }

    public func verifyPassword(user: String, password: [UInt8]) async -> AuthenticationResult {
        await self.refreshSettingsInUseIfDue()
        guard UserName.isValid(user) else {
            _ = await PasswordCheck.verify(password, against: nil)
            return .invalidCredentials
        }
        let stored: StoredPassword?
        switch await self.storedPassword(of: user) {
        case .success(let found): stored = found
        case .failure(let error): return .temporaryFailure(error.description)
        }
        switch await PasswordCheck.verify(password, against: stored) {
        case .match:
            return .success(user: user)
        case .mismatch:
            return .invalidCredentials
        case .unusable(let reason):
            let message = "account \(user) in the database: \(reason)"
            database.logger.error("\(message)")
            return .temporaryFailure(message)
        }
    }

    public func scramCredentials(user: String) async -> SCRAMCredentials? {
        guard case .success(let stored?) = await self.storedPassword(of: user) else { return nil }
        return stored.scramCredentials
    }

    public func apopSecret(user: String) async -> [UInt8]? {
        guard case .success(let stored?) = await self.storedPassword(of: user) else { return nil }
        return stored.plaintext
    }

    public func accountExists(user: String) async -> Bool {
        await self.lookUpAccount(user: user) == .exists
    }

    public func lookUpAccount(user: String) async -> AccountLookup {
        switch await self.storedPassword(of: user) {
        case .success(let stored): stored == nil ? .absent : .exists
        case .failure(let error): .temporaryFailure(error.description)
        }
    }

    private func storedPassword(of user: String) async -> Result<StoredPassword?, DatabaseFailure> {
        guard UserName.isValid(user) else { return .success(nil) }
        do {
            let rows = try await database.rows("SELECT password FROM accounts WHERE name = \(user)")
            guard let row = rows.first else { return .success(nil) }
            return .success(StoredPassword(field: try row.decode(String.self)))
        } catch {
            let failure = DatabaseFailure(error)
            database.logger.warning("account lookup failed: \(failure)")
            return .failure(failure)
        }
    }

    // MARK: - Changes (`postoffice user …`)

    /// Adds `user` with `password` hashed in `scheme`.
    public func add(user: String, password: String, scheme: PasswordScheme = .defaultForNewPasswords)
        async throws(AccountChangeError)
    {
        let added = try await self.writePassword(password, of: user, scheme: scheme) { field in
            "INSERT INTO accounts (name, password) VALUES (\(user), \(field)) ON CONFLICT (name) DO NOTHING RETURNING 1"
        }
        guard added else { throw AccountChangeError(code: .userExists, message: "user \(user) already exists") }
    }

    /// Replaces the password of `user`.
    public func setPassword(user: String, password: String, scheme: PasswordScheme = .defaultForNewPasswords)
        async throws(AccountChangeError)
    {
        let changed = try await self.writePassword(password, of: user, scheme: scheme) { field in
            "UPDATE accounts SET password = \(field), updated_at = now() WHERE name = \(user) RETURNING 1"
        }
        guard changed else { throw AccountChangeError(code: .noSuchUser, message: "no user \(user)") }
    }

    /// Removes `user`; the mailbox and its mail stay.
    public func remove(user: String) async throws(AccountChangeError) {
        try Self.checkUserName(user)
        let removed = try await self.change("DELETE FROM accounts WHERE name = \(user) RETURNING 1")
        guard removed else { throw AccountChangeError(code: .noSuchUser, message: "no user \(user)") }
    }

    /// The account names, sorted.
    public func list() async throws(AccountChangeError) -> [String] {
        do {
            return try await database.rows("SELECT name FROM accounts ORDER BY name").map { try $0.decode(String.self) }
        } catch {
            throw AccountChangeError(code: .database, message: DatabaseFailure(error).description)
        }
    }

    /// Hashes `password` in `scheme` (off the caller's thread) and runs the statement made with
    /// the stored form; says whether it changed a row.
    private func writePassword(
        _ password: String,
        of user: String,
        scheme: PasswordScheme,
        _ statement: (String) -> PostgresQuery
    ) async throws(AccountChangeError) -> Bool {
        try Self.checkUserName(user)
        let field = try await Self.hash(password, scheme: scheme)
        return try await self.change(statement(field))
    }

    /// Runs a change that returns a row when it did something.
    private func change(_ query: PostgresQuery) async throws(AccountChangeError) -> Bool {
        do {
            return try await !database.rows(query).isEmpty
        } catch {
            throw AccountChangeError(code: .database, message: DatabaseFailure(error).description)
        }
    }

    private static func checkUserName(_ user: String) throws(AccountChangeError) {
        guard UserName.isValid(user) else {
            throw AccountChangeError(
                code: .invalidUserName,
                message: "invalid user name: it must be 1 to 255 bytes without '/', '..', ':' or control characters"
            )
        }
    }

    /// Hashes on the blocking pool (yescrypt takes tens of milliseconds).
    private static func hash(_ password: String, scheme: PasswordScheme) async throws(AccountChangeError) -> String {
        let result: Result<String, PasswordHashingError>
        do {
            result = try await BlockingIO.run {
                Result { () throws(PasswordHashingError) in try PasswordHasher.hash(password, scheme: scheme).fieldValue
                }
            }
        } catch {
            throw AccountChangeError(code: .database, message: "the password could not be hashed: \(error)")
        }
        switch result {
        case .success(let field): return field
        case .failure(let error): throw AccountChangeError(code: .invalidPassword, message: error.message)
        }
    }
}

/// Why `postoffice user …` could not change the accounts table. The message never holds a
/// password or hash.
public struct AccountChangeError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        case userExists
        case noSuchUser
        case invalidUserName
        case invalidPassword
        case database
    }

    public var code: Code
    /// A sentence for the person at the command line.
    public var message: String

    public var description: String { message }
}
