import Accounts
import ArgumentParser
import FileIO
import Foundation
import MailStore
import POP3Server
import SystemPackage

/// `postoffice expire`: deletes, for every account, the messages older than its retention period
/// (`expire_days`, RFC 2449 §6.7 EXPIRE). cron or `postoffice-expire.timer` runs it daily.
///
/// A maildrop a POP3 session holds is skipped (it is expired on a later run); so is an account
/// whose Maildir does not exist, or whose period is NEVER or 0 (EXPIRE 0 deletes what a session
/// retrieved, at its end: what no session retrieved stays). Exit status 0 when every maildrop was
/// expired or skipped, 1 when one failed, 78 (EX_CONFIG) for a configuration that cannot be used.
struct ExpireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire",
        abstract: "Delete messages older than each account's expire_days (daily, from cron or postoffice-expire.timer)."
    )

    @OptionGroup var site: SiteOptions
    @OptionGroup var expireDays: ExpireDaysOption

    @Flag(name: .customLong("dry-run"), help: "Print what would be deleted, and delete nothing.")
    var dryRun = false

    func run() async throws {
        let siteSettings: SiteSettings
        let siteExpiry: Expiry?
        let backends: Backends
        do {
            var section = try site.loadServerSection()
            siteSettings = try site.resolveSite(section: &section)
            siteExpiry = try expireDays.resolve(section: &section)
            backends = try Backends(site: siteSettings)
        } catch {
            Console.printError("\(error)")
            throw ExitCode(78)
        }
        // The Maildir store, or the PostgreSQL store (whose pools run while this does).
        let report: Report = try await backends.withRunning {
            let accounts: [String: AccountSettings]
            do {
                accounts = try await backends.allAccountSettings()
            } catch {
                Console.printError("\(error)")
                throw ExitCode(78)
            }
            var report = Report()
            let now = FileTime.now().seconds
            for user in accounts.keys.sorted() {
                // safe: iterating the dictionary's own keys.
                let policy = AccountPolicy(siteLoginDelay: nil, siteExpiry: siteExpiry, account: accounts[user]!)
                guard let cutoff = policy.expiryCutoff(now: now) else { continue }
                await self.expire(user: user, cutoff: cutoff, now: now, store: backends.store, report: &report)
            }
            return report
        }
        let verb = dryRun ? "would remove" : "removed"
        say(
            "expire: \(verb) \(report.messages) messages (\(report.octets) octets) of \(report.accounts) accounts; \(report.inUse) in use, \(report.failed) failed"
        )
        if report.failed > 0 { throw ExitCode.failure }
    }

    struct Report: Sendable {
        var messages = 0
        var octets = 0
        var accounts = 0
        var inUse = 0
        var failed = 0
    }

    private func expire(user: String, cutoff: Int, now: Int, store: any MailStore, report: inout Report) async {
        do {
            if let maildirs = store as? MaildirStore {
                let path = try maildirs.maildirPath(for: user)
                // A Maildir not there yet holds nothing to expire; opening would create it.
                guard try await BlockingIO.run({ FileSystem.isDirectory(FilePath(path)) }) else { return }
            }
            let maildrop = try await store.openMaildrop(user: user)
            let doomed = maildrop.indices(arrivedAtOrBefore: cutoff)
            do {
                if !doomed.isEmpty, !self.dryRun {
                    try await maildrop.commitDeletions(doomed)
                }
            } catch {
                await maildrop.close()
                throw error
            }
            await maildrop.close()
            for index in doomed {
                let message = maildrop.messages[index]
                let arrival = message.arrival ?? now
                say(
                    "\(dryRun ? "would expire" : "expired") user=\(user) uidl=\(message.uniqueID) size=\(message.size) arrived=\(Self.date(arrival)) age=\((now - arrival) / 86_400)d"
                )
                report.octets += message.size
            }
            report.messages += doomed.count
            if !doomed.isEmpty { report.accounts += 1 }
        } catch MailStoreError.inUse {
            say("skipped user=\(user): a POP3 session holds the maildrop; a later run expires it")
            report.inUse += 1
        } catch {
            Console.printError("expiring \(user)'s mail failed: \(error)")
            report.failed += 1
        }
    }

    /// `2024-05-01T12:00:00Z`.
    static func date(_ seconds: Int) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
