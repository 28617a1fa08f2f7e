import ArgumentParser
import Logging
import PostgresStore

/// `postoffice db migrate`: creates or upgrades the PostgreSQL schema of the store and accounts.
struct DbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the PostgreSQL database of a multi-node site.",
        subcommands: [Migrate.self]
    )

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or upgrade the schema (safe to run again, from any node, at any time)."
        )
        @OptionGroup var site: SiteOptions

        func run() async throws {
            let settings = try site.resolveSite()
            // The store's and the accounts' databases, each once.
            var urls: [String] = []
            for url in [settings.storeURL, settings.accountsURL].compactMap({ $0 }) where !urls.contains(url) {
                urls.append(url)
            }
            guard !urls.isEmpty else {
                throw ValidationError(
                    "name the database: --store postgresql://… (or --accounts, or `store` in the config)"
                )
            }
            for text in urls {
                let url = try PostgresURL(parsing: text)
                let database = try MailDatabase(url: url, logger: Logger(label: "postgres"))
                do {
                    let report = try await database.withRunning { try await Schema.migrate($0) }
                    if report.applied.isEmpty {
                        say("\(url): the schema is current (version \(report.to))")
                    } else {
                        let versions = report.applied.map(String.init).joined(separator: ", ")
                        say("\(url): schema version \(report.from) → \(report.to) (applied \(versions))")
                    }
                } catch {
                    Console.printError("\(url): \(error)")
                    throw ExitCode.failure
                }
            }
        }
    }
}
