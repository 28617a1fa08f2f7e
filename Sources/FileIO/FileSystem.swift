// Path-level calls: stat, mkdir -p, rename, link, unlink, directory fsync, whole-file reads and
// the atomic replace (temporary file → fsync → rename → directory fsync). All block: run them
// through `BlockingIO`, batched (one hop per operation, not per file).

public import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The file-system calls of the package, with errors as `FileIOError`.
public enum FileSystem {
    // MARK: Status

    /// `stat(2)`, following symbolic links; `nil` when the path (or a directory on it) does not
    /// exist.
    public static func status(_ path: FilePath) throws(FileIOError) -> FileStatus? {
        var info = stat()
        let result = path.withPlatformString { stat($0, &info) }
        guard result == 0 else {
            let error = Errno.current
            if error == .noSuchFileOrDirectory || error == .notDirectory {
                return nil
            }
            throw FileIOError("stat", path, error)
        }
        return FileStatus(info)
    }

    /// Sets the access and modification times of `path` (`utimensat(2)`), as a copy that keeps
    /// a file's delivery time does.
    public static func setTimes(_ path: FilePath, to time: FileTime) throws(FileIOError) {
        var times = [
            timespec(tv_sec: time_t(time.seconds), tv_nsec: Int(time.nanoseconds)),
            timespec(tv_sec: time_t(time.seconds), tv_nsec: Int(time.nanoseconds)),
        ]
        let result = path.withPlatformString { utimensat(AT_FDCWD, $0, &times, 0) }
        guard result == 0 else { throw FileIOError("utimensat", path, Errno.current) }
    }

    /// Whether `path` is a directory (following links); `false` when it does not exist or
    /// cannot be examined.
    public static func isDirectory(_ path: FilePath) -> Bool {
        (try? Self.status(path))??.isDirectory == true
    }

    // MARK: Directories

    /// `mkdir(2)`; returns `false` when something already exists at `path`.
    @discardableResult
    public static func createDirectory(_ path: FilePath, permissions: UInt32 = 0o700) throws(FileIOError) -> Bool {
        guard path.withPlatformString({ mkdir($0, mode_t(permissions)) }) == 0 else {
            let error = Errno.current
            if error == .fileExists {
                return false
            }
            throw FileIOError("mkdir", path, error)
        }
        return true
    }

    /// `mkdir -p`: creates `path` and the directories above it that are missing, each with
    /// `permissions`. Throws `ENOTDIR` when `path` exists but is not a directory.
    public static func createDirectories(_ path: FilePath, permissions: UInt32 = 0o700) throws(FileIOError) {
        if try Self.status(path)?.isDirectory == true {
            return
        }
        let bytes = path.rawBytes
        var prefix: [UInt8] = bytes.first == UInt8(ascii: "/") ? [UInt8(ascii: "/")] : []
        for component in bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if !prefix.isEmpty, prefix.last != UInt8(ascii: "/") {
                prefix.append(UInt8(ascii: "/"))
            }
            prefix.append(contentsOf: component)
            try Self.createDirectory(FilePath(rawBytes: prefix), permissions: permissions)
        }
        guard try Self.status(path)?.isDirectory == true else {
            throw FileIOError("mkdir", path, .notDirectory)
        }
    }

    /// Lists the directory at `path` (see `Directory.entries(skippingHidden:)`).
    public static func entries(of path: FilePath, skippingHidden: Bool = false) throws(FileIOError)
        -> [DirectoryEntry]
    {
        let directory = try Directory.open(path)
        defer { directory.close() }
        return try directory.entries(skippingHidden: skippingHidden)
    }

    /// `fsync(2)` on the directory at `path`, so names created, renamed or removed in it are
    /// durable.
    public static func syncDirectory(_ path: FilePath) throws(FileIOError) {
        let directory = try Directory.open(path)
        defer { directory.close() }
        try directory.sync()
    }

    /// `fsync(2)` on the directory holding `path`.
    public static func syncParentDirectory(of path: FilePath) throws(FileIOError) {
        try Self.syncDirectory(Self.parent(of: path))
    }

    /// The directory holding `path` (`.` for a bare name).
    public static func parent(of path: FilePath) -> FilePath {
        let parent = path.removingLastComponent()
        return parent.isEmpty ? "." : parent
    }

    // MARK: Names

    /// `rename(2)`: atomically replaces `destination`.
    public static func rename(_ source: FilePath, to destination: FilePath) throws(FileIOError) {
        let result = source.withPlatformString { from in destination.withPlatformString { to in systemRename(from, to) }
        }
        try check("rename", destination, result)
    }

    /// `link(2)`: a second name for `source`; fails with `EEXIST` when `destination` exists.
    public static func link(_ source: FilePath, to destination: FilePath) throws(FileIOError) {
        let result = source.withPlatformString { from in destination.withPlatformString { to in systemLink(from, to) } }
        try check("link", destination, result)
    }

    /// `unlink(2)`; returns `false` when there was no such file.
    @discardableResult
    public static func remove(_ path: FilePath) throws(FileIOError) -> Bool {
        guard path.withPlatformString({ unlink($0) }) == 0 else {
            let error = Errno.current
            if error == .noSuchFileOrDirectory {
                return false
            }
            throw FileIOError("unlink", path, error)
        }
        return true
    }

    // MARK: Whole files

    /// The content of the file at `path`; throws `EFBIG` when it is larger than `limit`.
    public static func readFile(_ path: FilePath, limit: Int = .max) throws(FileIOError) -> [UInt8] {
        let file = try File.open(path, .readOnly)
        defer { file.closeQuietly() }
        return try file.readToEnd(limit: limit)
    }

    /// The content and status of the file at `path`, both from one open descriptor (so a rename
    /// between them cannot mix two versions); `nil` when the file does not exist.
    public static func readFileIfExists(_ path: FilePath, limit: Int = .max) throws(FileIOError)
        -> (bytes: [UInt8], status: FileStatus)?
    {
        guard let file = try File.openForReading(path) else { return nil }
        defer { file.closeQuietly() }
        let status = try file.status()
        return (try file.readToEnd(limit: limit), status)
    }

    /// `fsync(2)` on the file at `path` (one already written, such as a copy found after a
    /// crash whose writer may have died before its fsync).
    public static func syncFile(_ path: FilePath) throws(FileIOError) {
        let file = try File.open(path, .readOnly)
        defer { file.closeQuietly() }
        try file.sync()
    }

    /// Creates `path` exclusively (failing with `EEXIST` if it exists), writes `bytes`, fsyncs
    /// and closes it, checking every step (maildir(5), "NFS-writing"). A file it created and
    /// could not finish is removed.
    public static func writeNewFile(
        _ path: FilePath,
        _ bytes: some Sequence<UInt8>,
        permissions: FilePermissions = [.ownerRead, .ownerWrite]
    ) throws(FileIOError) {
        let file = try File.open(path, .writeOnly, options: [.create, .exclusiveCreate], permissions: permissions)
        do {
            try file.write(bytes)
            try file.sync()
            try file.close()
        } catch {
            file.closeQuietly()
            _ = try? Self.remove(path)
            throw error
        }
    }

    /// Replaces the file at `path` atomically: `write` fills a new temporary file in the same
    /// directory, which is fsynced, closed and renamed over `path`; then the directory is fsynced
    /// so the new name is durable. Readers see the old content or the new, never a mix; a failure
    /// leaves the old file and removes the temporary one.
    ///
    /// - Parameters:
    ///   - permissions: the mode of the new file when `path` does not exist yet; an existing
    ///     file's mode is kept.
    ///   - temporary: the temporary file's path. By default a new unique name
    ///     `<path>.tmp.XXXXXXXXXXXX`; a fixed name suits a writer that holds a lock (a leftover of
    ///     a crash is then replaced rather than piling up).
    ///   - durable: fsync the file and the directory. A cache that is checked on reading (and
    ///     rebuilt when garbled) can skip both: readers still never see a mix.
    public static func replaceAtomically(
        _ path: FilePath,
        permissions: UInt32 = 0o600,
        temporary: FilePath? = nil,
        durable: Bool = true,
        write: (File) throws -> Void
    ) throws {
        var mode = permissions
        if let existing = try Self.status(path) {
            mode = existing.permissions
        }
        let file: File
        if let temporary {
            try Self.remove(temporary)
            file = try File.open(temporary, .writeOnly, options: [.create, .exclusiveCreate])
        } else {
            file = try Self.makeUniqueFile(near: path)
        }
        do {
            try file.setPermissions(mode)
            try write(file)
            if durable {
                try file.sync()
            }
        } catch {
            file.closeQuietly()
            _ = try? Self.remove(file.path)
            throw error
        }
        do {
            // A failed close(2) still releases the descriptor: never close it twice.
            try file.close()
            try Self.rename(file.path, to: path)
        } catch {
            _ = try? Self.remove(file.path)
            throw error
        }
        guard durable else { return }
        do {
            try Self.syncParentDirectory(of: path)
        } catch {
            // A file system that cannot fsync a directory says EINVAL; the rename stands.
            guard error.errno == .invalidArgument else { throw error }
        }
    }

    /// `replaceAtomically(_:permissions:temporary:durable:write:)` with the whole content at hand.
    public static func replaceAtomically(
        _ path: FilePath,
        with bytes: [UInt8],
        permissions: UInt32 = 0o600,
        temporary: FilePath? = nil,
        durable: Bool = true
    ) throws(FileIOError) {
        do {
            try Self.replaceAtomically(path, permissions: permissions, temporary: temporary, durable: durable) { file in
                try file.write(bytes)
            }
        } catch let error as FileIOError {
            throw error
        } catch {
            throw FileIOError("write", path, .ioError)
        }
    }

    /// A new file `<path>.tmp.XXXXXXXX` (random hex), mode 0600, created exclusively as
    /// `mkstemp(3)` would, with close-on-exec set from the start.
    static func makeUniqueFile(near path: FilePath) throws(FileIOError) -> File {
        let digits = Array("0123456789abcdef".utf8)
        for _ in 0..<100 {
            var suffix = Array(".tmp.".utf8)
            var random = UInt64.random(in: .min ... .max)
            for _ in 0..<12 {
                suffix.append(digits[Int(random & 0xF)])
                random >>= 4
            }
            let candidate = FilePath(rawBytes: path.rawBytes + suffix)
            let result = candidate.withPlatformString {
                open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(0o600))
            }
            if result >= 0 {
                return File(descriptor: FileDescriptor(rawValue: result), path: candidate)
            }
            let error = Errno.current
            guard error == .fileExists else { throw FileIOError("create temporary file for", path, error) }
        }
        throw FileIOError("create temporary file for", path, .fileExists)
    }
}

/// `rename(2)` and `link(2)`, where `FileSystem`'s methods of those names hide them.
private func systemRename(_ from: UnsafePointer<CChar>, _ to: UnsafePointer<CChar>) -> Int32 {
    rename(from, to)
}

private func systemLink(_ from: UnsafePointer<CChar>, _ to: UnsafePointer<CChar>) -> Int32 {
    link(from, to)
}

/// Facts about this process and host that file names carry.
public enum SystemIdentity {
    /// This machine's host name (`gethostname(2)`), or `localhost` when it has none.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? "localhost" : String(decoding: bytes, as: UTF8.self)
    }

    /// This process's ID.
    public static var processID: Int { Int(getpid()) }
}
