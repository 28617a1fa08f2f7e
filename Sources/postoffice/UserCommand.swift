import Accounts
import ArgumentParser
import FileIO
import Foundation
import Logging
import PostgresStore

/// `postoffice user add|passwd|remove|list`: manages the passwd-file, or the accounts table
/// when accounts are in PostgreSQL (`--accounts postgresql://…`).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage accounts in the passwd-file (Dovecot's format) or in PostgreSQL (--accounts).",
        subcommands: [Add.self, Passwd.self, Remove.self, List.self]
    )

    /// Options shared by `add` and `passwd`.
    struct PasswordOptions: ParsableArguments {
        @Flag(name: .customLong("password-stdin"), help: "Read the password from the first line of standard input.")
        var passwordStdin = false

        @Option(
            name: .long,
            help:
                "Password scheme: CRYPT (yescrypt, the default), SHA512-CRYPT, SHA256-CRYPT, BLF-CRYPT, SSHA512, SSHA256, SCRAM-SHA-256, PLAIN."
        )
        var scheme: String?

        func resolvedScheme() throws -> PasswordScheme {
            guard let scheme else { return .defaultForNewPasswords }
            guard let parsed = PasswordScheme(name: scheme) else {
                throw ValidationError("unknown password scheme '\(scheme)'")
            }
            return parsed
        }

        func readPassword() throws -> String {
            if passwordStdin { return try Console.readPasswordFromStandardInput() }
            let first = try Console.readPassword(prompt: "Password: ")
            let second = try Console.readPassword(prompt: "Again: ")
            guard first == second else { throw ValidationError("the passwords differ; nothing was changed") }
            guard !first.isEmpty else { throw ValidationError("the password is empty; nothing was changed") }
            return first
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an account.")
        @OptionGroup var site: SiteOptions
        @OptionGroup var password: PasswordOptions
        @Argument(help: "The user name.") var name: String

        func run() async throws {
            let settings = try site.resolveSite()
            let scheme = try password.resolvedScheme()
            if let accounts = try databaseAccounts(settings) {
                let secret = try await BlockingIO.run { try password.readPassword() }
                try await performInDatabase(accounts) { try await $0.add(user: name, password: secret, scheme: scheme) }
                say(
                    "added \(name) to \(accounts.database.url) (\(scheme.rawValue)); mail goes to \(mailLocation(settings, name))"
                )
                return
            }
            try prepareDirectory(for: settings.passwdFile)
            let editor = PasswdFileEditor(path: settings.passwdFile)
            try await perform { try editor.add(user: name, password: try password.readPassword(), scheme: scheme) }
            say(
                "added \(name) to \(settings.passwdFile) (\(scheme.rawValue)); mail goes to \(mailLocation(settings, name))"
            )
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an account's password.")
        @OptionGroup var site: SiteOptions
        @OptionGroup var password: PasswordOptions
        @Argument(help: "The user name.") var name: String

        func run() async throws {
            let settings = try site.resolveSite()
            let scheme = try password.resolvedScheme()
            if let accounts = try databaseAccounts(settings) {
                let secret = try await BlockingIO.run { try password.readPassword() }
                try await performInDatabase(accounts) {
                    try await $0.setPassword(user: name, password: secret, scheme: scheme)
                }
                say("changed the password of \(name)")
                return
            }
            let editor = PasswdFileEditor(path: settings.passwdFile)
            try await perform {
                try editor.setPassword(user: name, password: try password.readPassword(), scheme: scheme)
            }
            say("changed the password of \(name)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account (its Maildir is left in place).")
        @OptionGroup var site: SiteOptions
        @Argument(help: "The user name.") var name: String

        func run() async throws {
            let settings = try site.resolveSite()
            if let accounts = try databaseAccounts(settings) {
                try await performInDatabase(accounts) { try await $0.remove(user: name) }
            } else {
                let editor = PasswdFileEditor(path: settings.passwdFile)
                try await perform { try editor.remove(user: name) }
            }
            say("removed \(name); the mail at \(mailLocation(settings, name)) is untouched")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts.")
        @OptionGroup var site: SiteOptions

        func run() async throws {
            let settings = try site.resolveSite()
            if let accounts = try databaseAccounts(settings) {
                try await performInDatabase(accounts) { accounts in
                    for user in try await accounts.list() { say(user) }
                }
                return
            }
            guard FileManager.default.fileExists(atPath: settings.passwdFile) else { return }
            let editor = PasswdFileEditor(path: settings.passwdFile)
            try await perform { for user in try editor.list() { say(user) } }
        }
    }
}

/// Runs an editor operation (file I/O, locking and password hashing) on the blocking pool,
/// turning its error into a clear message and exit code 1.
private func perform(_ body: @escaping @Sendable () throws -> Void) async throws {
    do {
        try await BlockingIO.run(body)
    } catch let error as PasswdFileEditorError {
        Console.printError(error.message)
        throw ExitCode.failure
    }
}

/// The accounts table, when the settings put accounts in PostgreSQL.
private func databaseAccounts(_ settings: SiteSettings) throws -> PostgresAccounts? {
    guard let url = settings.accountsURL else { return nil }
    return PostgresAccounts(
        database: try MailDatabase(url: try PostgresURL(parsing: url), logger: Logger(label: "postgres"))
    )
}

/// Runs a change to the accounts table with its pool running; an error is a message and exit code 1.
private func performInDatabase(
    _ accounts: PostgresAccounts,
    _ body: @escaping @Sendable (PostgresAccounts) async throws -> Void
) async throws {
    let failure: String? = try await accounts.database.withRunning { _ in
        do {
            try await body(accounts)
            return nil
        } catch let error as AccountChangeError {
            return error.message
        }
    }
    if let failure {
        Console.printError(failure)
        throw ExitCode.failure
    }
}

/// Where `user`'s mail is kept, for messages.
private func mailLocation(_ settings: SiteSettings, _ user: String) -> String {
    if settings.storeURL != nil { return "\(Backends.storeDescription(settings)) (mailbox \(user))" }
    return settings.maildirTemplate.replacingOccurrences(of: "%u", with: user)
}

private func prepareDirectory(for path: String) throws {
    let directory = (path as NSString).deletingLastPathComponent
    guard !directory.isEmpty else { return }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
}
