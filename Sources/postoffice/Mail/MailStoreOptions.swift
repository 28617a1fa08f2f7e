import ArgumentParser
import Foundation
import Mailbox

/// Where the mail is: `--maildir DIR` or `--mbox FILE`; by default the Maildir that
/// `postoffice fetch` delivers to, `$XDG_DATA_HOME/postoffice/mail` (XDG_DATA_HOME defaults to
/// `~/.local/share`).
struct MailStoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read this Maildir (with its Maildir++ folders).", valueName: "dir"))
    var maildir: String?

    @Option(help: ArgumentHelp("Read this mbox file.", valueName: "file"))
    var mbox: String?

    func validate() throws {
        if maildir != nil, mbox != nil { throw ValidationError("Give --maildir or --mbox, not both.") }
    }

    func open() throws -> OfflineMailbox {
        try MailStoreOptions.open(maildir: maildir, mbox: mbox)
    }

    static func open(maildir: String?, mbox: String?) throws -> OfflineMailbox {
        if let maildir { return try OfflineMailbox(store: .maildir(maildir)) }
        if let mbox { return try OfflineMailbox(store: .mbox(mbox)) }
        let path = defaultMaildir()
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError(
                "No mail store at \(path). Run `postoffice fetch` first, or give --maildir DIR or --mbox FILE."
            )
        }
        return try OfflineMailbox(store: .maildir(path))
    }

    /// `$XDG_DATA_HOME/postoffice/mail`, XDG_DATA_HOME defaulting to `~/.local/share`: where
    /// `postoffice fetch` delivers by default.
    static func defaultMaildir() -> String { XDG.defaultMaildir(account: "") }
}

/// `--folder NAME`: a Maildir++ folder (`Sent` or `.Sent`), `INBOX` for the root.
struct FolderOption: ParsableArguments {
    @Option(help: ArgumentHelp("Only this Maildir++ folder (INBOX for the top level).", valueName: "name"))
    var folder: String?

    var normalised: String? { folder.map(MaildirFolder.normalised) }
}
