// POP3Server: when each account last logged in, for LOGIN-DELAY (RFC 2449 §6.5), kept in a small
// file of the data directory so that a restart does not let every client in at once.
import FileIO
import NIOConcurrencyHelpers
import SystemPackage

/// The time of each account's last successful login, in memory and, when it has a path, in a
/// file that survives restarts.
///
/// The file (`last-logins` in the data directory) has a header line, then one line per account,
/// `<seconds since 1970> <user>`, each ending in LF. It is read once, on first use, and replaced
/// atomically and durably (temporary file, fsync, rename) after each recorded login: a crash
/// loses at most the login being recorded. A line that is not well formed is skipped; a file
/// that cannot be read counts as empty (a login delay is a load limit, not a security control).
///
/// It stays small: only logins that a delay applies to are recorded, logins older than the
/// longest delay in force are dropped (once per such period), and at most ``maximumEntries``
/// accounts are kept (the oldest logins go first). Logins recorded while the file is being
/// written go out together in the next write. All file work runs on `BlockingIO`.
public final class LoginHistory: Sendable {
    /// The file's name in the data directory.
    public static let fileName = "last-logins"
    /// The most accounts remembered at once (a file of a few MiB).
    public static let maximumEntries = 100_000
    /// A larger file is not read (it cannot have been written by us).
    static let maximumFileSize = 16 * 1024 * 1024
    private static let header = Array("postoffice-last-logins 1\n".utf8)

    private struct State: Sendable {
        var loaded = false
        var logins: [String: Int] = [:]
        /// When old logins were last dropped.
        var lastPruned: Int?
        /// Counts changes, so a writer that finds the latest state already written skips it.
        var version = 0
        var writtenVersion = 0
    }

    /// Where the logins are kept; `nil` keeps them in memory only.
    let path: FilePath?
    private let state = NIOLockedValueBox(State())
    /// Held while the file is written, so two logins recorded at once write one after the other
    /// (each writes the latest state).
    private let writeLock = NIOLock()

    /// A history kept in the file at `path`, or in memory only when `path` is `nil`.
    public init(path: String?) {
        self.path = path.map { FilePath($0) }
    }

    /// How many seconds `user` must still wait at `now` (seconds since 1970) when logins must
    /// be `delay` seconds apart, or `nil` when a login is allowed now. A recorded login in the
    /// future (the clock was set back) does not hold anyone back.
    public func secondsToWait(user: String, delay: Int, now: Int) async -> Int? {
        await self.loadIfNeeded()
        guard let last = self.state.withLockedValue({ $0.logins[user] }) else { return nil }
        let elapsed = now - last
        guard elapsed >= 0, elapsed < delay else { return nil }
        return delay - elapsed
    }

    /// Records a successful login of `user` at `now`, forgetting logins older than `horizon`
    /// seconds (the longest delay in force), and writes the file. Throws when the file cannot be
    /// written; the login is remembered in memory all the same.
    public func record(user: String, at now: Int, horizon: Int) async throws {
        await self.loadIfNeeded()
        self.state.withLockedValue { state in
            state.logins[user] = now
            state.version += 1
            // Old logins go once per horizon (or when the clock went back), not at every login:
            // each pass walks every entry.
            let due = state.lastPruned.map { now - $0 >= horizon || now < $0 } ?? true
            guard due || state.logins.count > Self.maximumEntries else { return }
            state.lastPruned = now
            state.logins = state.logins.filter { $0.value > now - horizon && $0.value <= now + horizon }
            if state.logins.count > Self.maximumEntries {
                // Keep the newest nine tenths, so the next logins do not sort again at once.
                let newest = state.logins.sorted { $0.value > $1.value }.prefix(Self.maximumEntries * 9 / 10)
                state.logins = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
            }
        }
        guard let path = self.path else { return }
        try await BlockingIO.run { [self] in
            try self.writeLock.withLock {
                // Logins recorded while another was written are all in this state: under load,
                // one write covers many.
                let (logins, version) =
                    self.state.withLockedValue { state -> ([String: Int], Int)? in
                        guard state.version > state.writtenVersion else { return nil }
                        return (state.logins, state.version)
                    } ?? ([:], -1)
                guard version >= 0 else { return }
                try FileSystem.replaceAtomically(path, with: Self.serialize(logins))
                self.state.withLockedValue { $0.writtenVersion = max($0.writtenVersion, version) }
            }
        }
    }

    /// The accounts remembered now (for tests and `check-config`).
    public var count: Int { self.state.withLockedValue { $0.logins.count } }

    private func loadIfNeeded() async {
        guard !self.state.withLockedValue({ $0.loaded }) else { return }
        let read: [String: Int]
        if let path = self.path {
            read = (try? await BlockingIO.run { Self.load(path) }) ?? [:]
        } else {
            read = [:]
        }
        self.state.withLockedValue { state in
            guard !state.loaded else { return }
            state.loaded = true
            // Logins recorded while the file was read are newer than the file's.
            state.logins.merge(read) { current, _ in current }
        }
    }

    static func load(_ path: FilePath) -> [String: Int] {
        guard let (bytes, _) = try? FileSystem.readFileIfExists(path, limit: Self.maximumFileSize) else {
            return [:]
        }
        return Self.parse(bytes)
    }

    /// The logins the file's bytes hold; malformed lines are skipped.
    static func parse(_ bytes: [UInt8]) -> [String: Int] {
        guard bytes.starts(with: Self.header) else { return [:] }
        var logins: [String: Int] = [:]
        for line in bytes[Self.header.count...].split(separator: 0x0A) {
            guard let space = line.firstIndex(of: UInt8(ascii: " ")), space > line.startIndex,
                line[..<space].count <= 18, line[..<space].allSatisfy({ (0x30...0x39).contains($0) }),
                let seconds = Int(String(decoding: line[..<space], as: UTF8.self)),
                let user = String(validating: line[(space + 1)...], as: UTF8.self), !user.isEmpty
            else { continue }
            logins[user] = seconds
            if logins.count >= Self.maximumEntries { break }
        }
        return logins
    }

    /// The file's bytes: the header, then the logins sorted by user (equal states, equal files).
    static func serialize(_ logins: [String: Int]) -> [UInt8] {
        var out = Self.header
        for (user, seconds) in logins.sorted(by: { $0.key < $1.key }) {
            out += Array(String(seconds).utf8)
            out.append(UInt8(ascii: " "))
            out += Array(user.utf8)
            out.append(0x0A)
        }
        return out
    }
}
