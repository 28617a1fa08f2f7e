import ArgumentParser
import FileIO
import Foundation
import NIOCore
import POP3Server

/// `postoffice ban list|remove`: the bans the server keeps after repeated failed logins.
struct BanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ban",
        abstract: "List or lift the bans `serve` imposes after repeated failed logins.",
        subcommands: [List.self, Remove.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the bans in force.")
        @OptionGroup var site: SiteOptions

        func run() throws {
            let file = BanFile(path: try site.resolveSite().banFile)
            let now = BanFile.now()
            let bans = try Self.reporting { try file.load() }.filter { $0.value > now }
            let formatter = ISO8601DateFormatter()
            for (key, until) in bans.sorted(by: { $0.key.description < $1.key.description }) {
                let end = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(until)))
                say("\(key) until \(end) (\(until - now)s left)")
            }
            if bans.isEmpty { say("no bans") }
        }

        /// Runs a ban-file operation, turning its error into a message and exit code 1.
        static func reporting<T>(_ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch let error as FileIOError {
                Console.printError(error.description)
                throw ExitCode.failure
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lift the ban on an address (IPv6: its /64) or a user name; the server sees it within a second."
        )
        @OptionGroup var site: SiteOptions
        @Argument(help: "An IP address, an IPv6 /64 as `postoffice ban list` shows it, or a user name.")
        var target: String

        func run() throws {
            let file = BanFile(path: try site.resolveSite().banFile)
            var candidates: [BanKey] = [.user(target), .address(target)]
            if let address = try? SocketAddress(ipAddress: target, port: 0) {
                candidates.append(.address(PeerAddress(address).clientKey))
            }
            var removed: [BanKey] = []
            _ = try List.reporting {
                try file.update(now: BanFile.now()) { bans in
                    for key in candidates where bans.removeValue(forKey: key) != nil { removed.append(key) }
                }
            }
            guard !removed.isEmpty else {
                Console.printError("no ban on \(target)")
                throw ExitCode(1)
            }
            for key in removed { say("removed the ban on \(key)") }
        }
    }
}
