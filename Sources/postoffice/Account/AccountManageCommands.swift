import ArgumentParser
import Fetch
import FileIO
import Foundation
import Logging
import POP3Client

/// `postoffice account list`: the accounts in fetch.toml, one line each.
struct AccountListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the accounts fetch downloads from."
    )

    @OptionGroup var config: AccountConfigOption

    func run() async throws {
        try await AccountFailure.exiting {
            let accounts = try await config.file.accounts()
            guard !accounts.isEmpty else {
                say("No account in \(config.path) yet: add one with `postoffice account add ADDRESS`.")
                return
            }
            for account in accounts { say(Self.describe(account)) }
        }
    }

    static func describe(_ account: FetchAccountSettings) -> String {
        let tls: String =
            switch account.tls {
            case .implicit: "implicit TLS"
            case .starttls: "STLS"
            case .none: "no TLS"
            }
        let retention: String =
            switch account.retention {
            case .deleteAfterDownload: "deleted on the server after download"
            case .keep: "kept on the server"
            case .keepDays(let days): "kept on the server for \(days) days"
            }
        let password: String =
            switch account.password {
            case .file(let path)?: "password in \(path)"
            case .command(let command)?: "password from `\(command)`"
            case .environment(let name)?: "password in $\(name)"
            case nil: "no password source"
            }
        let target: String =
            switch account.target {
            case .maildir(let path): path
            case .mbox(let path): "mbox \(path)"
            case .mda(let command): "`\(command)`"
            }
        var trust = ""
        switch account.trust {
        case .system: break
        case .caFile(let path): trust = ", trusting \(path)"
        case .fingerprint: trust = ", certificate pinned"
        case .insecure: trust = ", certificate NOT checked"
        }
        return "\(account.name): \(account.user) at \(account.host):\(account.port) (\(tls)\(trust)); mail to "
            + "\(target), \(retention); \(password)"
    }
}

/// `postoffice account remove NAME`.
struct AccountRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove an account from fetch.toml (downloaded mail stays).",
        discussion: """
            A password file that `account add` wrote for the account is deleted too. Downloaded \
            mail and the account's state (what was downloaded) stay.
            """
    )

    @OptionGroup var config: AccountConfigOption

    @Argument(help: "The account's name, as `account list` shows it.")
    var name: String

    func run() async throws {
        try await AccountFailure.exiting {
            let file = config.file
            guard let text = try await file.read() else {
                throw AccountFailure(.configuration, "\(file.path) does not exist: there is no account to remove")
            }
            let removed = try FetchFileSettings(text: text, path: file.path).accounts.first { $0.name == name }
            try await file.write(try file.removing(account: name, from: text))
            say("Removed the account \(name) from \(file.path).")
            // Only the file `account add` writes for this name, in our own directory.
            if case .file(let path)? = removed?.password, path == PasswordKeeper.defaultFile(account: name) {
                try await BlockingIO.run { try FileManager.default.removeItem(atPath: path) }
                say("Deleted its password file \(path).")
            } else if case .command(let command)? = removed?.password, command.hasPrefix("secret-tool lookup") {
                say(
                    "Its password stays in the keyring: `\(command.replacingOccurrences(of: "lookup", with: "clear"))` removes it."
                )
            }
        }
    }
}

/// `postoffice account test NAME`: logs in and says what waits, changing nothing.
struct AccountTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Log in to an account's server and show what waits there; nothing is downloaded or deleted.",
        discussion: "Exit codes as for fetch: 77 authentication, 76 TLS or certificate, 69 network, 78 configuration."
    )

    @OptionGroup var config: AccountConfigOption

    @Argument(help: "The account's name, as `account list` shows it.")
    var name: String

    func run() async throws {
        try await AccountFailure.exiting {
            _ = try LoggingSetup.bootstrap(level: "critical")
            let account: FetchAccount
            do {
                account = try FetchCommand.accounts(fromFile: config.path, selecting: [name]).accounts[0]
            } catch let error as ValidationError {
                throw AccountFailure(.configuration, error.message)
            }
            let connector = makePOP3Connector(account: account, logger: Logger(label: "account"))
            do {
                let listing = try await connector.withSource { source in
                    let listing = try await source.list()
                    try await source.quit()
                    return listing
                }
                let size = listing.reduce(0) { $0 + $1.size }
                say(
                    "\(name): logged in as \(account.user) at \(account.host):\(account.port); "
                        + AccountSetup.describe((listing.count, size)) + " on the server."
                )
            } catch let failure as FetchFailure {
                throw AccountFailure(failure.kind, "\(name): " + FetchAdvice.message(for: failure, account: account))
            }
        }
    }
}
