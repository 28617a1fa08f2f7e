// POP3Server: the ban file, shared by the running server and `postoffice ban list|remove`.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bans in force, one per line, in a small file beside the data (`bans`):
///
/// ```
/// # postoffice bans: KIND KEY UNTIL (Unix seconds)
/// address 192.0.2.7 1795000000
/// address 2001:db8:1:2::/64 1795000000
/// user alice 1795000300
/// ```
///
/// Every change is a read-modify-write under an exclusive `flock` on `bans.lock`, written to a
/// temporary file, fsynced and renamed over the old one, so a reader never sees half a file and
/// the server and `postoffice ban remove` never undo each other's change. The server re-reads the
/// file when it changes, so a removal takes effect within ``POP3Server/banSyncInterval``.
///
/// Synchronous: the server calls it through `BlockingIO`, never on an event loop.
public struct BanFile: Sendable {
    public struct IOError: Error, CustomStringConvertible {
        public var description: String
    }

    /// What tells one version of the file from another: inode, size and modification time.
    struct Signature: Hashable {
        var inode: UInt64
        var size: Int64
        var modified: Int64
        var modifiedNanoseconds: Int
    }

    /// The longest ban file read; a longer one is refused rather than read without bound.
    public static let maximumSize = 1 << 20

    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The bans in the file; none when it does not exist.
    public func load() throws -> [BanKey: Int64] {
        let descriptor = open(self.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return [:] }
            throw Self.error("cannot open", self.path)
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw Self.error("cannot read", self.path) }
            if count == 0 { break }
            bytes += chunk.prefix(count)
            guard bytes.count <= Self.maximumSize else {
                throw IOError(description: "\(self.path) is larger than \(Self.maximumSize) bytes")
            }
        }
        return Self.parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Applies `change` to the bans under the lock, drops those ended at `now`, and writes the
    /// result atomically; returns it.
    @discardableResult
    public func update(now: Int64, _ change: (inout [BanKey: Int64]) -> Void) throws -> [BanKey: Int64] {
        let lock = open(self.path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw Self.error("cannot open", self.path + ".lock") }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw Self.error("cannot lock", self.path + ".lock") }
        }
        var bans = try self.load()
        change(&bans)
        bans = BanList.trimmed(bans, now: now)
        try self.replaceContents(with: Self.format(bans))
        return bans
    }

    /// The file's current signature, or nil when it does not exist.
    func signature() -> Signature? {
        var info = stat()
        guard stat(self.path, &info) == 0 else { return nil }
        #if canImport(Darwin)
            let modified = info.st_mtimespec
        #else
            let modified = info.st_mtim
        #endif
        return Signature(
            inode: UInt64(info.st_ino),
            size: Int64(info.st_size),
            modified: Int64(modified.tv_sec),
            modifiedNanoseconds: Int(modified.tv_nsec)
        )
    }

    /// The current time in Unix seconds, the clock ban ends are written in.
    public static func now() -> Int64 {
        Int64(time(nil))
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

    /// Writes `text` to a temporary file beside the ban file, fsyncs it, renames it over.
    private func replaceContents(with text: String) throws {
        let temporary = self.path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.error("cannot create", temporary) }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else {
                close(descriptor)
                throw Self.error("cannot write", temporary)
            }
            bytes = bytes.dropFirst(written)
        }
        guard fsync(descriptor) == 0 else {
            close(descriptor)
            throw Self.error("cannot fsync", temporary)
        }
        close(descriptor)
        guard rename(temporary, self.path) == 0 else { throw Self.error("cannot rename over", self.path) }
    }

    private static func error(_ what: String, _ path: String) -> IOError {
        IOError(description: "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
