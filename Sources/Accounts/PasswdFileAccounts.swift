import FileIO
// The passwd-file account provider the server uses.
import MailCore
import NIOConcurrencyHelpers
public import SASL
import SystemPackage

/// An ``AccountProvider`` backed by a Dovecot-format passwd-file.
///
/// - The file is re-read when its inode, size or modification time changes; that is checked
///   cheaply (one `stat`) on every login and account lookup, and at most once per second for
///   the per-connection settings.
/// - Every lookup, and all hashing, runs on a small dedicated thread pool, never on the caller's
///   thread (which may be an event loop).
/// - An unknown user costs a yescrypt computation, like a real check, so timing says little
///   about which users exist.
/// - A re-read file that is empty or ends in the middle of a line is taken for a rewrite in
///   progress (a torn write): lookups keep the last complete copy, and the problem is reported,
///   until the file changes again. Replace the file atomically (write a new one, rename it over)
///   to change it without that window.
/// - When the file cannot be read, lookups answer ``AuthenticationResult/temporaryFailure(_:)``.
///   An account whose password scheme we do not know cannot log in; its check also answers
///   `temporaryFailure`, with a text naming the user and scheme (never the hash) for the log.
///
/// - SeeAlso: ``PasswdFile`` for the format, ``PasswdFileEditor`` to change the file.
public final class PasswdFileAccounts: AccountProvider {
    private struct Cache: Sendable {
        var file: PasswdFile?
        /// The status of the file the cache was read from (device, inode, size, mtime).
        var identity: FileStatus?
        var loadError: String?
        var lastCheck: ContinuousClock.Instant?
        /// The settings the accounts of `file` carry, computed once per read.
        var settingsInUse = AccountSettingsInUse()
    }

    /// The passwd-file's path.
    public let path: String
    private let reloadInterval: Duration
    private let pool: BlockingThreadPool
    private let reportProblem: @Sendable (String) -> Void
    // NIOLockedValueBox (a pthread mutex) rather than Synchronization.Mutex: the thread
    // sanitizer sees pthread locks.
    private let cache = NIOLockedValueBox(Cache())

    /// A provider for the passwd-file at `path`. The file is first read on the first lookup.
    public convenience init(path: String) {
        self.init(path: path, reloadInterval: .seconds(1), onProblem: { _ in })
    }

    /// A provider for the passwd-file at `path`.
    /// - Parameters:
    ///   - reloadInterval: how long a check of the file's identity stays valid (1 s by default).
    ///   - onProblem: called, off the caller's thread, with a loggable sentence for each problem:
    ///     bad lines found on each (re)load, unreadable file, unusable stored password. The text
    ///     never contains a password or hash.
    public init(
        path: String,
        reloadInterval: Duration = .seconds(1),
        onProblem: @escaping @Sendable (String) -> Void
    ) {
        self.path = path
        self.reloadInterval = reloadInterval
        self.pool = HashingPool.shared
        self.reportProblem = onProblem
    }

    public func verifyPassword(user: String, password: [UInt8]) async -> AuthenticationResult {
        await pool.run { [self] in
            guard UserName.isValid(user) else {
                _ = PasswordCheck.verifyNow(password, against: nil)
                return .invalidCredentials
            }
            let file: PasswdFile
            switch currentFile(checkNow: true) {
            case .success(let loaded): file = loaded
            case .failure(let error): return .temporaryFailure(error.message)
            }
            let entry = file.entries[user]
            switch PasswordCheck.verifyNow(password, against: entry?.password) {
            case .match:
                guard let entry else { return .invalidCredentials }
                return .success(user: entry.user)
            case .mismatch:
                return .invalidCredentials
            case .unusable(let reason):
                let message = "\(path) line \(entry?.lineNumber ?? 0), user \(user): \(reason)"
                reportProblem(message)
                return .temporaryFailure(message)
            }
        }
    }

    public func scramCredentials(user: String) async -> SCRAMCredentials? {
        await entry(for: user)?.password.scramCredentials
    }

    public func apopSecret(user: String) async -> [UInt8]? {
        await entry(for: user)?.password.plaintext
    }

    public func accountExists(user: String) async -> Bool {
        await entry(for: user) != nil
    }

    /// Like ``accountExists(user:)``, but a file that cannot be read answers
    /// ``AccountLookup/temporaryFailure(_:)`` rather than "absent".
    public func lookUpAccount(user: String) async -> AccountLookup {
        guard UserName.isValid(user) else { return .absent }
        return await pool.run { [self] in
            switch currentFile(checkNow: true) {
            case .success(let file): file.entries[user] == nil ? .absent : .exists
            case .failure(let error): .temporaryFailure(error.message)
            }
        }
    }

    public func settings(user: String) async -> AccountSettings {
        await entry(for: user)?.settings ?? AccountSettings()
    }

    /// Every account and its own settings, as the file says now (`postoffice expire`). Throws,
    /// with a loggable sentence, when the file cannot be read.
    public func allSettings() async throws -> [String: AccountSettings] {
        try await pool.run { [self] in
            currentFile().map { file in file.entries.mapValues(\.settings) }
        }.get()
    }

    /// What the accounts carry as of the last read (nothing before the first lookup).
    public var settingsInUse: AccountSettingsInUse {
        cache.withLockedValue { $0.settingsInUse }
    }

    /// Loads the file now (if changed) and returns its problems, or the reason it cannot be read.
    /// For a startup check (`postoffice serve`) and for `user list`.
    public func problems() async -> [String] {
        await pool.run { [self] in
            switch currentFile() {
            case .success(let file): file.problems.map { "\(path) \($0)" }
            case .failure(let error): [error.message]
            }
        }
    }

    private func entry(for user: String) async -> PasswdEntry? {
        guard UserName.isValid(user) else { return nil }
        return await pool.run { [self] in
            guard case .success(let file) = currentFile() else { return nil }
            return file.entries[user]
        }
    }

    private struct LoadError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// The current file, re-read if its identity changed. Runs on the pool.
    ///
    /// - Parameter checkNow: look at the file's identity (one `stat`) even if it was looked at
    ///   less than `reloadInterval` ago. Logins and account lookups do, so an account added a
    ///   moment ago can log in at once; the per-connection settings (CAPA) do not.
    private func currentFile(checkNow: Bool = false) -> Result<PasswdFile, LoadError> {
        let now = ContinuousClock.now
        var problemsToReport: [String] = []
        let result: Result<PasswdFile, LoadError> = cache.withLockedValue { cache in
            if !checkNow, let lastCheck = cache.lastCheck, now - lastCheck < reloadInterval {
                if let file = cache.file { return .success(file) }
                if let error = cache.loadError { return .failure(LoadError(message: error)) }
            }
            cache.lastCheck = now
            if let file = cache.file, let identity = cache.identity,
                let current = try? FileSystem.status(FilePath(path)), current.isSameVersion(as: identity)
            {
                return .success(file)
            }
            do {
                guard
                    let (bytes, identity) = try FileSystem.readFileIfExists(FilePath(path), limit: Self.maximumFileSize)
                else { throw FileIOError("open", FilePath(path), .noSuchFileOrDirectory) }
                if let previous = cache.file, let reason = Self.incompleteness(of: bytes) {
                    // Most likely caught half-way through a rewrite in place: serve the last
                    // complete copy until the file changes again.
                    cache.identity = identity
                    problemsToReport = ["\(path) \(reason): keeping the previous copy until it is rewritten"]
                    return .success(previous)
                }
                let file = PasswdFile(parsing: String(decoding: bytes, as: UTF8.self))
                cache.file = file
                cache.identity = identity
                cache.loadError = nil
                cache.settingsInUse = AccountSettingsInUse(file.entries.values)
                problemsToReport = file.problems.map { "\(path) \($0)" }
                return .success(file)
            } catch {
                let message = "cannot read passwd-file: \(error)"
                cache.file = nil
                cache.identity = nil
                cache.loadError = message
                cache.settingsInUse = AccountSettingsInUse()
                problemsToReport = [message]
                return .failure(LoadError(message: message))
            }
        }
        problemsToReport.forEach(reportProblem)
        return result
    }

    /// The largest passwd-file read (64 MiB).
    static let maximumFileSize = 64 << 20

    /// Why a re-read passwd-file looks unfinished (an editor or script caught half-way through
    /// rewriting it in place), or nil: it is empty, or its last line has no line end. A file
    /// written completely ends with a newline (`user add` and `passwd` do; so do editors). A
    /// write torn exactly at a line end cannot be told from a shorter file.
    static func incompleteness(of bytes: [UInt8]) -> String? {
        guard let last = bytes.last else { return "is empty" }
        return last == UInt8(ascii: "\n") ? nil : "ends in the middle of a line"
    }
}
