import ArgumentParser

/// `postoffice mail …`: read, search, extract and export the downloaded mail offline.
struct MailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail",
        abstract: "Read, search and archive the downloaded mail.",
        discussion: """
            The store is a Maildir (--maildir DIR, with its Maildir++ folders) or an mbox file \
            (--mbox FILE). Without either, the Maildir that `postoffice fetch` delivers to: \
            $XDG_DATA_HOME/postoffice/mail (XDG_DATA_HOME defaults to ~/.local/share). \
            A search index is kept beside the store (.postoffice-index.sqlite); it is \
            updated automatically and can be deleted at any time.
            Message IDs are the first 8 hex digits of the SHA-256 of the Maildir unique name \
            (longer when two messages share them); any unique prefix of 4 or more works.
            """,
        subcommands: [
            MailListCommand.self, MailShowCommand.self, MailAttachmentsCommand.self, MailSearchCommand.self,
            MailExportCommand.self, MailVerifyCommand.self, MailReindexCommand.self,
        ]
    )
}
