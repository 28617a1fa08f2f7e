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
        abstract: "Deliver one RFC 5322 message from standard input into USER's mailbox (Maildir or PostgreSQL)."
    )

    /// The largest message `deliver` accepts.
    static let maximumMessageSize = 256 * 1024 * 1024

    @OptionGroup var site: SiteOptions

    @Argument(help: "The account to deliver to (it must exist in the passwd-file or the accounts table).")
    var user: String

    func run() async throws {
        let settings: SiteSettings
        do {
            settings = try site.resolveSite()
        } catch {
            Console.printError("\(error)")
            throw ExitCode(78)  // EX_CONFIG
        }
        let backends: Backends
        do {
            backends = try Backends(site: settings)
        } catch {
            Console.printError("\(error)")
            throw ExitCode(78)  // EX_CONFIG
        }
        if let passwdFile = backends.passwdFile,
            try await !BlockingIO.run({ FileManager.default.isReadableFile(atPath: passwdFile) })
        {
            Console.printError("cannot read the passwd-file \(passwdFile)")
            throw ExitCode(75)
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
        let user = self.user
        let accountsWhere = Backends.accountsDescription(settings)
        do {
            let name = try await backends.withRunning { () async throws -> String in
                switch await backends.accounts.lookUpAccount(user: user) {
                case .exists: break
                case .absent: throw DeliveryRefusal.noSuchUser
                case .temporaryFailure(let reason): throw DeliveryRefusal.accountsUnavailable(reason)
                }
                return try await backends.store.deliver(user: user, message: message)
            }
            if Console.standardErrorIsTerminal { Console.printError("delivered to \(user): \(name)") }
        } catch DeliveryRefusal.noSuchUser {
            Console.printError("no such user '\(user)' in \(accountsWhere); nothing was delivered")
            throw ExitCode(67)
        } catch DeliveryRefusal.accountsUnavailable(let reason) {
            Console.printError("the accounts cannot be read (\(reason)); nothing was delivered")
            throw ExitCode(75)
        } catch MailStoreError.noSuchUser {
            Console.printError("'\(user)' cannot be a mailbox name; nothing was delivered")
            throw ExitCode(67)
        } catch {
            Console.printError("delivery to \(user) failed: \(error); nothing was delivered")
            throw ExitCode(75)
        }
    }
}

/// Why `deliver` stores nothing before it reads the message into the store.
private enum DeliveryRefusal: Error {
    case noSuchUser
    case accountsUnavailable(String)
}
