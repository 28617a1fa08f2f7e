import Accounts
import Foundation
import Logging
import MailStore
import PostgresStore

/// The mail store and the account database the site settings name: Maildirs and a passwd-file
/// (the embedded default), or PostgreSQL for either or both.
struct Backends {
    let store: any MailStore
    let accounts: any AccountProvider
    /// The PostgreSQL pools behind them (one per distinct URL), which must run while they are used.
    let databases: [MailDatabase]
    /// The passwd-file, when accounts are in one.
    let passwdFile: String?

    /// Opens nothing yet: pools connect on first use, files are read on first lookup.
    /// `passwdFileAccounts` makes the passwd-file provider (serve's logs the file's problems).
    init(
        site: SiteSettings,
        takeoverAfter: Duration = .seconds(60),
        logger: Logger = Logger(label: "postgres"),
        passwdFileAccounts: (String) -> PasswdFileAccounts = { PasswdFileAccounts(path: $0) }
    ) throws {
        var databases: [String: MailDatabase] = [:]
        func database(_ text: String) throws -> MailDatabase {
            if let existing = databases[text] { return existing }
            let made = try MailDatabase(url: try PostgresURL(parsing: text), logger: logger)
            databases[text] = made
            return made
        }
        if let storeURL = site.storeURL {
            store = PostgresMailStore(database: try database(storeURL), takeoverAfter: takeoverAfter)
        } else {
            do {
                store = try MaildirStore(template: site.maildirTemplate, takeoverAfter: takeoverAfter)
            } catch {
                throw ConfigError("the maildir template is not usable: \(error)")
            }
        }
        if let accountsURL = site.accountsURL {
            accounts = PostgresAccounts(database: try database(accountsURL))
            passwdFile = nil
        } else {
            accounts = passwdFileAccounts(site.passwdFile)
            passwdFile = site.passwdFile
        }
        self.databases = Array(databases.values)
    }

    /// Where mail is kept, for people (a URL without its password, or the Maildir template).
    static func storeDescription(_ site: SiteSettings) -> String {
        guard let storeURL = site.storeURL else { return site.maildirTemplate }
        return (try? PostgresURL(parsing: storeURL).description) ?? "postgresql://…"
    }

    /// Where accounts are kept, for people.
    static func accountsDescription(_ site: SiteSettings) -> String {
        guard let accountsURL = site.accountsURL else { return site.passwdFile }
        return (try? PostgresURL(parsing: accountsURL).description) ?? "postgresql://…"
    }

    /// Every account and its own settings (`expire_days`, `login_delay`), from the passwd-file
    /// or the accounts table.
    func allAccountSettings() async throws -> [String: AccountSettings] {
        switch accounts {
        case let file as PasswdFileAccounts: try await file.allSettings()
        case let table as PostgresAccounts: try await table.allSettings()
        default: [:]
        }
    }

    /// Runs the pools while `body` runs (commands that do one job and exit).
    func withRunning<Result: Sendable>(_ body: @Sendable () async throws -> Result) async throws -> Result {
        try await Self.run(databases[...], body)
    }

    private static func run<Result: Sendable>(
        _ databases: ArraySlice<MailDatabase>,
        _ body: @Sendable () async throws -> Result
    ) async throws -> Result {
        guard let first = databases.first else { return try await body() }
        return try await first.withRunning { _ in try await run(databases.dropFirst(), body) }
    }

    /// Checks that every database has the schema this build uses, with a short-lived pool of
    /// its own (a pool runs once). Throws a sentence naming `postoffice db migrate`.
    func checkSchemas(logger: Logger) async throws {
        for database in databases {
            let probe = try MailDatabase(url: database.url, logger: logger)
            do {
                try await probe.withRunning { try await Schema.check($0) }
            } catch let mismatch as Schema.Mismatch {
                throw ConfigError("\(database.url): \(mismatch)")
            } catch {
                throw ConfigError("cannot use the database \(database.url): \(error)")
            }
        }
    }
}
