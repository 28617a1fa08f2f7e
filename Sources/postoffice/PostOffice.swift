import ArgumentParser
import Dispatch

struct PostOffice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postoffice",
        abstract: "A POP3 mail system: server, fetch client and offline mailbox.",
        subcommands: [
            ServeCommand.self, UserCommand.self, DeliverCommand.self, AccountCommand.self, FetchCommand.self,
            MailCommand.self, CheckConfigCommand.self, WhoCommand.self, KickCommand.self, BanCommand.self,
            ExpireCommand.self, DbCommand.self, MigrateCommand.self,
        ]
    )
}

/// The entry point: runs the command on Swift's cooperative pool while the main thread waits.
///
/// An `async` main would end the main thread (the main queue is then drained elsewhere), and
/// a dead main thread keeps the credentials it had: after `serve` drops root, `ps` and
/// /proc/PID/status would still show uid 0 for the process. glibc's `setuid` changes every
/// live thread, so a main thread that lives on (here, waiting) drops with the others.
@main
enum Main {
    static func main() {
        let finished = DispatchSemaphore(value: 0)
        // Detached: the entry point is the main actor's, which this thread, waiting, cannot run.
        Task.detached {
            await PostOffice.main()
            finished.signal()
        }
        finished.wait()
    }
}
