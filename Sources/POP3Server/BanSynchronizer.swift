// POP3Server: keeps the in-memory bans and the ban file in step.
import FileIO
import Logging
import NIOConcurrencyHelpers

/// Writes new bans to the ban file and reads the file back when someone else changed it
/// (`postoffice ban remove`), off the event loops (`BlockingIO`).
final class BanSynchronizer: Sendable {
    let bans: BanList
    let file: BanFile
    let logger: Logger
    /// The file as this process last wrote or read it.
    private let lastSeen = NIOLockedValueBox<BanFile.Signature?>(nil)

    init(bans: BanList, file: BanFile, logger: Logger) {
        self.bans = bans
        self.file = file
        self.logger = logger
    }

    /// Loads the bans in the file (at start).
    func load() async throws {
        let file = self.file
        let (persisted, signature) = try await BlockingIO.run { (try file.load(), file.signature()) }
        self.bans.replace(with: persisted)
        self.lastSeen.withLockedValue { $0 = signature }
    }

    /// Synchronizes every `interval` until cancelled.
    func run(every interval: Duration) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            await self.synchronize()
        }
    }

    /// Writes pending bans (merged with the file's), or re-reads the file if it changed.
    func synchronize() async {
        let file = self.file
        let pending = self.bans.takePending()
        let lastSeen = self.lastSeen.withLockedValue { $0 }
        do {
            let outcome: ([BanKey: Int64], BanFile.Signature?)? = try await BlockingIO.run {
                if pending.isEmpty {
                    let signature = file.signature()
                    guard signature != lastSeen else { return nil }
                    return (try file.load(), signature)
                }
                let merged = try file.update(now: BanFile.now()) { bans in
                    bans.merge(pending) { max($0, $1) }
                }
                return (merged, file.signature())
            }
            guard let outcome else { return }
            let (persisted, signature) = outcome
            self.bans.replace(with: persisted)
            self.lastSeen.withLockedValue { $0 = signature }
        } catch {
            self.bans.restorePending(pending)
            self.logger.error("cannot update the ban file: \(error)")
        }
    }
}
