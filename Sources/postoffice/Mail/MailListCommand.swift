import ArgumentParser
import Foundation
import Mailbox

struct MailListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List messages, newest first: ID, date, sender, attachment mark (@), subject, size."
    )

    @OptionGroup var store: MailStoreOptions
    @OptionGroup var folder: FolderOption

    @Option(help: "Show at most this many messages.")
    var limit: Int?

    @Flag(help: "Print a JSON array of {id, date, from, to, subject, size, attachments, folder}.")
    var json = false

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative.") }
    }

    func run() throws {
        let mailbox = try store.open()
        let summaries = try mailbox.list(folder: folder.normalised, limit: limit)
        if json {
            Output.write(MessageFormatting.jsonArray(summaries))
        } else {
            let terminal = Terminal.standardOutput()
            terminal.emit(MessageFormatting.table(summaries, terminal: terminal))
        }
    }
}

struct MailSearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find messages; prints them as `list` does.",
        discussion: """
            Terms (all must match): from:TEXT  to:TEXT  subject:TEXT  before:YYYY-MM-DD \
            after:YYYY-MM-DD (local days; after includes the day)  has:attachment  \
            and free words or "phrases" over the decoded text, subject, names and attachment \
            names; -word excludes. Quote values with spaces: subject:"weekly report".
            """
    )

    @OptionGroup var store: MailStoreOptions
    @OptionGroup var folder: FolderOption

    @Option(help: "Show at most this many messages.")
    var limit: Int?

    @Flag(help: "Print a JSON array, as `list --json`.")
    var json = false

    @Argument(parsing: .allUnrecognized, help: "The query.")
    var query: [String] = []

    func run() throws {
        let parsed = try SearchQuery(parsing: query.joined(separator: " "))
        let mailbox = try store.open()
        let summaries = try mailbox.search(parsed, folder: folder.normalised, limit: limit)
        if json {
            Output.write(MessageFormatting.jsonArray(summaries))
        } else {
            let terminal = Terminal.standardOutput()
            terminal.emit(MessageFormatting.table(summaries, terminal: terminal))
        }
    }
}

struct MailReindexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reindex",
        abstract: "Rebuild the search index from the store."
    )

    @OptionGroup var store: MailStoreOptions

    func run() throws {
        let mailbox = try store.open()
        let clock = ContinuousClock()
        var report = SyncReport()
        let elapsed = try clock.measure { report = try mailbox.reindex() }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var line = "indexed \(report.added) messages in \(String(format: "%.2f", seconds)) s"
        if !report.unreadable.isEmpty { line += "; \(report.unreadable.count) unreadable" }
        Output.write(line + "\n")
    }
}
