import ArgumentParser
import Fetch
import Foundation

/// `postoffice account add|list|remove|test`: the accounts `postoffice fetch` downloads from,
/// kept in the fetch configuration file.
struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Set up the accounts `postoffice fetch` downloads from (in fetch.toml).",
        subcommands: [
            AccountAddCommand.self, AccountListCommand.self, AccountRemoveCommand.self, AccountTestCommand.self,
        ]
    )
}

/// `--config FILE`, as for `fetch`.
struct AccountConfigOption: ParsableArguments {
    @Option(help: "The fetch configuration file (default ~/.config/postoffice/fetch.toml).")
    var config: String?

    /// The file, as an absolute path.
    var path: String {
        guard let config else { return XDG.defaultFetchConfig }
        let expanded = expandTilde(config)
        return expanded.hasPrefix("/") ? expanded : FileManager.default.currentDirectoryPath + "/" + expanded
    }

    var file: FetchConfigFile { FetchConfigFile(path: self.path) }
}

/// A failure of an account command: a message that names the fix, and fetch's exit codes
/// (77 authentication, 76 TLS or certificate, 69 network, 78 configuration).
struct AccountFailure: Error, CustomStringConvertible {
    var kind: FetchErrorKind
    var description: String

    init(_ kind: FetchErrorKind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// Prints the message and exits with the kind's code.
    static func exiting(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as AccountFailure {
            Console.printError(failure.description)
            throw ExitCode(failure.kind.exitCode)
        } catch let error as ConfigError {
            Console.printError(error.description)
            throw ExitCode(FetchErrorKind.configuration.exitCode)
        }
    }
}
