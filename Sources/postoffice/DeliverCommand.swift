import Accounts
import ArgumentParser
import FileIO
import Foundation
import MailStore

/// `postoffice deliver USER`: the local delivery agent an MTA calls.
///
/// Exit codes follow sysexits(3), which MTAs understand: 67 (EX_NOUSER) for an unknown user,
/// 65 (EX_DATAERR) for an unusable message, 75 (EX_TEMPFAIL) for a failure worth retrying.
struct DeliverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Deliver one RFC 5322 message from standard input into USER's Maildir."
    )

    /// The largest message `deliver` accepts.
    static let maximumMessageSize = 256 * 1024 * 1024

    @OptionGroup var site: SiteOptions

    @Argument(help: "The account to deliver to (it must exist in the passwd-file).")
    var user: String

    func run() async throws {
        let settings: SiteSettings
        do {
            settings = try site.resolveSite()
        } catch {
            Console.printError("\(error)")
            throw ExitCode(78)  // EX_CONFIG
        }
        let passwdFile = settings.passwdFile
        guard try await BlockingIO.run({ FileManager.default.isReadableFile(atPath: passwdFile) }) else {
            Console.printError("cannot read the passwd-file \(settings.passwdFile)")
            throw ExitCode(75)
        }
        let accounts = PasswdFileAccounts(path: settings.passwdFile)
        guard await accounts.accountExists(user: user) else {
            Console.printError("no such user '\(user)' in \(settings.passwdFile); nothing was delivered")
            throw ExitCode(67)
        }
        let message: [UInt8]
        do {
            message = try await BlockingIO.run {
                try File.standardInput.readToEnd(limit: Self.maximumMessageSize)
            }
        } catch let error as FileIOError where error.isTooLarge {
            Console.printError(
                "the message is larger than \(Self.maximumMessageSize / (1024 * 1024)) MiB; nothing was delivered"
            )
            throw ExitCode(65)
        } catch {
            Console.printError("cannot read standard input: \(error); nothing was delivered")
            throw ExitCode(65)
        }
        guard !message.isEmpty else {
            Console.printError("the message on standard input is empty; nothing was delivered")
            throw ExitCode(65)
        }
        do {
            let store = try MaildirStore(template: settings.maildirTemplate)
            let name = try await store.deliver(user: user, message: message)
            if Console.standardErrorIsTerminal { Console.printError("delivered to \(user): \(name)") }
        } catch MailStoreError.noSuchUser {
            Console.printError("'\(user)' cannot be a mailbox name; nothing was delivered")
            throw ExitCode(67)
        } catch {
            Console.printError("delivery to \(user) failed: \(error); nothing was delivered")
            throw ExitCode(75)
        }
    }
}
