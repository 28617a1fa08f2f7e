import ArgumentParser
import FileIO
import Logging
import MailStore
import PostgresStore
import SystemPackage

/// `postoffice migrate --from maildir:TEMPLATE --to postgresql://…` (or the other way round).
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract:
            "Copy mailboxes between Maildirs and PostgreSQL, keeping UIDLs; resumable, verified by counting and hashing.",
        discussion: """
            The source is never changed. Each maildrop is locked while it is read, so stop the \
            servers of the source, or migrate users who are not logged in. Each message keeps its \
            UIDL, its size, whether a reader has seen it (Maildir cur/ and its :2, flags) and its \
            delivery time (a Maildir file's modification time), which POP3's EXPIRE policy counts \
            from. Run it again after an interruption: messages already copied (by UIDL) are \
            skipped, and every message is verified again (UIDL, size and SHA-256 of what RETR \
            sends; flags and delivery time of those this run copied). Exit status 1 if any user \
            failed or did not verify.
            """
    )

    @Option(name: .long, help: "maildir:TEMPLATE (e.g. maildir:/var/mail/%u/Maildir) or postgresql://….")
    var from: String

    @Option(name: .long, help: "postgresql://… or maildir:TEMPLATE: the other kind than --from.")
    var to: String

    @Option(name: .customLong("user"), help: "A user to migrate (repeat it); default: every mailbox the source has.")
    var users: [String] = []

    enum Side {
        case maildir(MaildirStore, template: String)
        case postgres(PostgresMailStore)
    }

    static func side(_ text: String, logger: Logger) throws -> Side {
        if PostgresURL.isPostgresURL(text) {
            let database = try MailDatabase(url: try PostgresURL(parsing: text), logger: logger)
            return .postgres(PostgresMailStore(database: database, node: "migrate"))
        }
        guard text.hasPrefix("maildir:") else {
            throw ValidationError("'\(text)' must be maildir:TEMPLATE or postgresql://…")
        }
        let template = String(text.dropFirst("maildir:".count))
        do {
            return .maildir(try MaildirStore(template: template), template: template)
        } catch {
            throw ValidationError("the maildir template is not usable: \(error)")
        }
    }

    func run() async throws {
        let logger = Logger(label: "postgres")
        let source = try Self.side(from, logger: logger)
        let target = try Self.side(to, logger: logger)
        let migration: MailboxMigration
        let database: MailDatabase
        switch (source, target) {
        case (.maildir(let maildir, _), .postgres(let postgres)):
            migration = MailboxMigration(source: MaildirMigrationStore(maildir), target: postgres)
            database = postgres.database
        case (.postgres(let postgres), .maildir(let maildir, _)):
            migration = MailboxMigration(source: postgres, target: MaildirMigrationStore(maildir))
            database = postgres.database
        default:
            throw ValidationError("one side must be maildir:TEMPLATE and the other postgresql://…")
        }
        let users = self.users
        let failed = try await database.withRunning { database in
            try await Schema.check(database)
            let names: [String]
            if !users.isEmpty {
                names = users
            } else {
                switch source {
                case .postgres(let store): names = try await store.mailboxNames()
                case .maildir(let store, let template):
                    names = try await Self.maildirUsers(template: template, store: store)
                }
            }
            var failed = 0
            for user in names {
                do {
                    let report = try await migration.migrate(user: user)
                    var line =
                        "\(user): \(report.messages) messages (\(report.seen) seen), \(report.octets) octets; \(report.copied) copied, \(report.alreadyThere) already there; "
                    if report.verified {
                        line += "verified (UIDL, size and SHA-256 of each; flags and delivery time of each copied)"
                    } else {
                        line += "NOT VERIFIED: \(report.mismatches.count) differ or are missing"
                        failed += 1
                    }
                    if report.extraInTarget > 0 { line += "; \(report.extraInTarget) more in the target" }
                    say(line)
                } catch {
                    Console.printError("\(user): \(error); run again to resume")
                    failed += 1
                }
            }
            say("\(names.count - failed) of \(names.count) mailboxes migrated and verified")
            return failed
        }
        if failed > 0 { throw ExitCode.failure }
    }

    /// The users of a Maildir tree whose template has `%u` as a whole path component
    /// (`/var/mail/%u/Maildir`): the directories there that hold a Maildir. Listed on the
    /// blocking-I/O threads.
    static func maildirUsers(template: String, store: MaildirStore) async throws -> [String] {
        let components = template.split(separator: "/", omittingEmptySubsequences: false)
        guard let index = components.firstIndex(of: "%u"), !components[..<index].contains(where: { $0.contains("%") })
        else {
            throw ValidationError("name the users with --user: the template has no %u component to list")
        }
        var parent = components[..<index].joined(separator: "/")
        if parent.isEmpty { parent = template.hasPrefix("/") ? "/" : "." }
        let directory = FilePath(parent)
        return try await BlockingIO.run {
            let entries = (try? FileSystem.entries(of: directory, skippingHidden: true)) ?? []
            return entries.compactMap { entry -> String? in
                guard entry.mayBeDirectory, let name = String(validating: entry.name, as: UTF8.self),
                    let path = try? store.maildirPath(for: name), Maildir(path: path).looksLikeMaildir
                else { return nil }
                return name
            }.sorted()
        }
    }
}
