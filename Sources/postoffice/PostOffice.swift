import ArgumentParser

@main
struct PostOffice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postoffice",
        abstract: "A POP3 mail system: server, fetch client and offline mailbox.",
        subcommands: [
            ServeCommand.self, UserCommand.self, DeliverCommand.self, AccountCommand.self, FetchCommand.self,
            MailCommand.self,
        ]
    )
}
