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
    private let lastSeen = NIOLockedValueBox<FileStatus?>(nil)

    init(bans: BanList, file: BanFile, logger: Logger) {
        self.bans = bans
        self.file = file
        self.logger = logger
    }

    /// Loads the bans in the file (at start).
    func load() async throws {
        let file = self.file
        let (persisted, status) = try await BlockingIO.run { try file.loadWithStatus() }
        self.bans.replace(with: persisted)
        self.lastSeen.withLockedValue { $0 = status }
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
            let outcome: ([BanKey: Int64], FileStatus?)? = try await BlockingIO.run {
                if pending.isEmpty {
                    guard Self.changed(try file.status(), since: lastSeen) else { return nil }
                    return try file.loadWithStatus()
                }
                let merged = try file.update(now: BanFile.now()) { bans in
                    bans.merge(pending) { max($0, $1) }
                }
                return (merged, try file.status())
            }
            guard let outcome else { return }
            let (persisted, status) = outcome
            self.bans.replace(with: persisted)
            self.lastSeen.withLockedValue { $0 = status }
        } catch {
            self.bans.restorePending(pending)
            self.logger.error("cannot update the ban file: \(error)")
        }
    }

    /// Whether the file at `current` is another version than the one `seen`.
    static func changed(_ current: FileStatus?, since seen: FileStatus?) -> Bool {
        switch (current, seen) {
        case (nil, nil): false
        case (let current?, let seen?): !current.isSameVersion(as: seen)
        default: true
        }
    }
}
