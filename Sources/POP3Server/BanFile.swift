// POP3Server: the ban file, shared by the running server and `postoffice ban list|remove`.
public import FileIO
import SystemPackage

/// The bans in force, one per line, in a small file beside the data (`bans`):
///
/// ```
/// # postoffice bans: KIND KEY UNTIL (Unix seconds)
/// address 192.0.2.7 1795000000
/// address 2001:db8:1:2::/64 1795000000
/// user alice 1795000300
/// ```
///
/// Every change is a read-modify-write under a write lock on `bans.lock` (FileIO's
/// `RecordLock`), written with FileIO's atomic replace (temporary file, fsync, rename, directory
/// fsync), so a reader never sees half a file and the server and `postoffice ban remove` never
/// undo each other's change. The server re-reads the file when it changes, so a removal takes
/// effect within ``POP3Server/banSyncInterval``.
///
/// Synchronous: the server calls it through `BlockingIO`, never on an event loop.
public struct BanFile: Sendable {
    /// The longest ban file read; a longer one is refused (`EFBIG`) rather than read without bound.
    public static let maximumSize = 1 << 20

    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The bans in the file; none when it does not exist.
    public func load() throws(FileIOError) -> [BanKey: Int64] {
        try self.loadWithStatus().bans
    }

    /// The bans in the file and the version read (`nil` when there is no file), from one open
    /// descriptor.
    func loadWithStatus() throws(FileIOError) -> (bans: [BanKey: Int64], status: FileStatus?) {
        guard let (bytes, status) = try FileSystem.readFileIfExists(FilePath(self.path), limit: Self.maximumSize)
        else { return ([:], nil) }
        return (Self.parse(String(decoding: bytes, as: UTF8.self)), status)
    }

    /// Applies `change` to the bans under the lock, drops those ended at `now`, and writes the
    /// result atomically; returns it.
    @discardableResult
    public func update(now: Int64, _ change: (inout [BanKey: Int64]) -> Void) throws -> [BanKey: Int64] {
        try RecordLock.withExclusiveLock(opening: FilePath(self.path + ".lock"), create: true) { _ in
            var bans = try self.load()
            change(&bans)
            bans = BanList.trimmed(bans, now: now)
            try FileSystem.replaceAtomically(
                FilePath(self.path),
                with: Array(Self.format(bans).utf8),
                temporary: FilePath(self.path + ".tmp")
            )
            return bans
        }
    }

    /// The file's current version, or nil when it does not exist.
    func status() throws(FileIOError) -> FileStatus? {
        try FileSystem.status(FilePath(self.path))
    }

    /// The current time in Unix seconds, the clock ban ends are written in.
    public static func now() -> Int64 {
        Int64(FileTime.now().seconds)
    }

    static func parse(_ text: String) -> [BanKey: Int64] {
        var bans: [BanKey: Int64] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let until = Int64(fields[2]) else { continue }
            switch fields[0] {
            case "address": bans[.address(String(fields[1]))] = until
            case "user": bans[.user(String(fields[1]))] = until
            default: continue
            }
        }
        return bans
    }

    static func format(_ bans: [BanKey: Int64]) -> String {
        var text = "# postoffice bans: KIND KEY UNTIL (Unix seconds)\n"
        for (key, until) in bans.sorted(by: { $0.key.description < $1.key.description }) {
            text += "\(key) \(until)\n"
        }
        return text
    }
}
