import ArgumentParser
import Mailbox

struct MailExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write messages (all, or those matching a query) to an mbox file (mboxrd), oldest first.",
        discussion: """
            The store is --maildir DIR or --source-mbox FILE (default as for the other mail \
            commands). Lines starting with From (after any number of >) get one more > (mboxrd).
            """
    )

    @Option(help: ArgumentHelp("Read this Maildir.", valueName: "dir"))
    var maildir: String?

    @Option(name: .customLong("source-mbox"), help: ArgumentHelp("Read this mbox file.", valueName: "file"))
    var sourceMbox: String?

    @OptionGroup var folder: FolderOption

    @Option(help: ArgumentHelp("The mbox file to write; - for standard output.", valueName: "file"))
    var mbox: String

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    @Flag(help: "Append to the output file if it exists.")
    var append = false

    @Argument(parsing: .allUnrecognized, help: "Optional search query (as for `mail search`).")
    var query: [String] = []

    func validate() throws {
        if force, append { throw ValidationError("Give --force or --append, not both.") }
        if maildir != nil, sourceMbox != nil { throw ValidationError("Give --maildir or --source-mbox, not both.") }
    }

    func run() throws {
        let parsed = query.isEmpty ? nil : try SearchQuery(parsing: query.joined(separator: " "))
        let mailbox = try MailStoreOptions.open(maildir: maildir, mbox: sourceMbox)
        let mode: ExportMode = force ? .overwrite : append ? .append : .create
        let count = try mailbox.exportMbox(query: parsed, folder: folder.normalised, to: mbox, mode: mode)
        if mbox != "-" { Output.error("exported \(count) messages to \(mbox)") }
    }
}

struct MailVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that every message is readable and parseable and matches the SHA-256 manifest.",
        discussion: """
            The manifest is .postoffice-manifest in each Maildir folder (lines `sha256 uniquename`); \
            `postoffice fetch` adds to it as it stores mail, and every `postoffice mail` command \
            records the digest of a message it sees for the first time, whoever stored it. Exits \
            non-zero when a message is unreadable, unparseable, differs from its recorded digest, \
            or is missing. The summary counts findings by kind; -v lists the warnings one by one.
            """
    )

    @OptionGroup var store: MailStoreOptions

    @Flag(help: "Record messages missing from the manifest and drop entries of removed messages.")
    var updateManifest = false

    @Flag(name: [.short, .long], help: "Also print warnings (messages not in the manifest, repaired defects).")
    var verbose = false

    func run() throws {
        let mailbox = try store.open()
        let report = try mailbox.verify(updateManifest: updateManifest)
        let terminal = Terminal.standardOutput()
        for finding in report.findings {
            if !finding.isFailure && !verbose { continue }
            let label = finding.isFailure ? terminal.styled("FAIL", .red) : terminal.styled("warn", .yellow)
            let id = finding.id ?? "-"
            Output.write(
                "\(label) \(id) \(SafeText.line(finding.name)): \(finding.kind.rawValue) (\(SafeText.line(finding.detail)))\n"
            )
        }
        Output.write(Self.summary(report, updatedManifest: updateManifest, verbose: verbose) + "\n")
        if !report.isSuccess { throw ExitCode(1) }
    }

    /// `checked 12 messages: 1 failed (1 digest mismatch), 3 warnings (2 not in manifest,
    /// 1 defects)`: what the findings are, by kind, even without `-v`.
    static func summary(_ report: VerifyReport, updatedManifest: Bool, verbose: Bool) -> String {
        let failures = report.countsByKind.filter { $0.kind.isFailure }
        let warnings = report.countsByKind.filter { !$0.kind.isFailure }
        func breakdown(_ counts: [(kind: VerifyReport.Finding.Kind, count: Int)]) -> String {
            counts.isEmpty ? "" : " (" + counts.map { "\($0.count) \($0.kind.rawValue)" }.joined(separator: ", ") + ")"
        }
        let warningCount = warnings.reduce(0) { $0 + $1.count }
        var summary = "checked \(report.checked) messages: \(report.failures.count) failed\(breakdown(failures)), "
        summary += "\(warningCount) warning\(warningCount == 1 ? "" : "s")\(breakdown(warnings))"
        if updatedManifest { summary += ", \(report.manifestChanges) manifest entries updated" }
        if warningCount > 0 && !verbose { summary += "; -v lists them" }
        return summary
    }
}
