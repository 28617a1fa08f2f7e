// The few POSIX calls the Maildir store needs, with errors mapped to `MailStoreError.io`.
// All of these block: call them from `BlockingIO.run`, never on an event loop.

import FileIO
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

enum Posix {
    /// An `.io` error naming the operation, the path and the errno text.
    static func failure(_ operation: String, _ path: RawPath, _ code: Int32 = errno) -> MailStoreError {
        .io("\(operation) \(path): \(Errno(rawValue: code))")
    }

    /// Seconds since 1970 from the real-time clock.
    static func currentTimeSeconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int(now.tv_sec)
    }

    // MARK: Directories

    /// `mkdir -p` with mode 0700 for the directories it creates.
    static func makeDirectories(_ path: RawPath) throws {
        var prefix: [UInt8] = []
        let components = path.bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        if path.bytes.first == UInt8(ascii: "/") {
            prefix.append(UInt8(ascii: "/"))
        }
        for component in components {
            if !prefix.isEmpty, prefix.last != UInt8(ascii: "/") {
                prefix.append(UInt8(ascii: "/"))
            }
            prefix.append(contentsOf: component)
            let current = RawPath(prefix)
            let result = current.withCString { mkdir($0, 0o700) }
            if result != 0 {
                let code = errno
                guard code == EEXIST else { throw Self.failure("mkdir", current, code) }
            }
        }
        guard let status = try Self.status(path), status.isDirectory else {
            throw Self.failure("mkdir", path, ENOTDIR)
        }
    }

    /// An entry of a directory listing.
    struct DirectoryEntry: Sendable {
        var name: [UInt8]
        /// `d_type` said it is not a regular file (or a link, which may point to one).
        var isCertainlyNotAFile: Bool
    }

    /// The entries of a directory, skipping every name that starts with `.` (maildir(5): readers
    /// skip them; this also drops `.` and `..`). A missing directory is an error.
    static func listDirectory(_ path: RawPath) throws -> [DirectoryEntry] {
        guard let directory = path.withCString({ opendir($0) }) else {
            throw Self.failure("opendir", path)
        }
        defer { closedir(directory) }
        var entries: [DirectoryEntry] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                let code = errno
                if code != 0 {
                    throw Self.failure("readdir", path, code)
                }
                return entries
            }
            let name: [UInt8] = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                let raw = UnsafeRawPointer(pointer)
                let length = strlen(raw.assumingMemoryBound(to: CChar.self))
                return Array(UnsafeRawBufferPointer(start: raw, count: length))
            }
            guard let first = name.first, first != UInt8(ascii: ".") else { continue }
            // DT_UNKNOWN 0, DT_REG 8, DT_LNK 10: anything else cannot be a message file.
            let type = entry.pointee.d_type
            entries.append(DirectoryEntry(name: name, isCertainlyNotAFile: type != 0 && type != 8 && type != 10))
        }
    }

    /// `fsync` on a directory, so the names created or removed in it are durable.
    static func syncDirectory(_ path: RawPath) throws {
        let fd = path.withCString { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { throw Self.failure("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Self.failure("fsync", path) }
    }

    // MARK: Files

    /// What the store needs of `stat(2)`.
    struct FileStatus: Hashable, Sendable {
        var size: Int
        var modificationSeconds: Int
        var modificationNanoseconds: Int
        var accessSeconds: Int
        var isRegularFile: Bool
        var isDirectory: Bool
    }

    /// `stat(2)`, or `nil` when the path does not exist.
    static func status(_ path: RawPath) throws -> FileStatus? {
        var info = stat()
        let result = path.withCString { stat($0, &info) }
        guard result == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                return nil
            }
            throw Self.failure("stat", path, code)
        }
        #if canImport(Darwin)
            let modified = info.st_mtimespec
            let accessed = info.st_atimespec
        #else
            let modified = info.st_mtim
            let accessed = info.st_atim
        #endif
        let type = info.st_mode & S_IFMT
        return FileStatus(
            size: Int(info.st_size),
            modificationSeconds: Int(modified.tv_sec),
            modificationNanoseconds: Int(modified.tv_nsec),
            accessSeconds: Int(accessed.tv_sec),
            isRegularFile: type == S_IFREG,
            isDirectory: type == S_IFDIR
        )
    }

    /// Opens a file for reading, or returns `nil` when it does not exist.
    static func openForReading(_ path: RawPath) throws -> FileDescriptor? {
        do {
            return try path.withCString { pointer in
                try FileDescriptor.open(FilePath(platformString: pointer), .readOnly, options: [.closeOnExec])
            }
        } catch Errno.noSuchFileOrDirectory {
            return nil
        } catch let error as Errno {
            throw Self.failure("open", path, error.rawValue)
        }
    }

    /// Reads up to `buffer.count` bytes; 0 at the end of the file.
    static func read(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, path: RawPath) throws -> Int {
        do {
            return try fd.read(into: buffer)
        } catch let error as Errno {
            throw Self.failure("read", path, error.rawValue)
        }
    }

    /// The whole content of a file of at most `limit` bytes, or `nil` when it does not exist or
    /// is larger.
    static func readSmallFile(_ path: RawPath, limit: Int) throws -> [UInt8]? {
        guard let fd = try Self.openForReading(path) else { return nil }
        defer { try? fd.close() }
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try Self.read(fd, into: $0, path: path) }
            if count == 0 {
                return content
            }
            content.append(contentsOf: chunk[..<count])
            if content.count > limit {
                return nil
            }
        }
    }

    /// Creates `path` exclusively (mode 0600), writes `bytes`, fsyncs and closes it, checking
    /// every step (maildir(5), "NFS-writing").
    static func writeNewFile(_ path: RawPath, _ bytes: [UInt8]) throws {
        let fd: FileDescriptor
        do {
            fd = try path.withCString { pointer in
                try FileDescriptor.open(
                    FilePath(platformString: pointer),
                    .writeOnly,
                    options: [.create, .exclusiveCreate, .closeOnExec],
                    permissions: [.ownerRead, .ownerWrite]
                )
            }
        } catch let error as Errno {
            throw Self.failure("create", path, error.rawValue)
        }
        do {
            _ = try bytes.withUnsafeBytes { try fd.writeAll($0) }
            guard fsync(fd.rawValue) == 0 else { throw Errno(rawValue: errno) }
        } catch {
            try? fd.close()
            _ = path.withCString { unlink($0) }  // we created it: leave no partial file behind
            let code = (error as? Errno)?.rawValue ?? EIO
            throw Self.failure("write", path, code)
        }
        do {
            try fd.close()
        } catch let error as Errno {
            throw Self.failure("close", path, error.rawValue)
        }
    }

    /// Replaces `path` atomically with `bytes` through a temporary file next to it.
    static func replaceFile(_ path: RawPath, with bytes: [UInt8], temporary: RawPath) throws {
        _ = try Self.removeFile(temporary)
        try Self.writeNewFile(temporary, bytes)
        try Self.renameFile(temporary, to: path)
    }

    /// `unlink(2)`; returns `false` when the file did not exist.
    @discardableResult
    static func removeFile(_ path: RawPath) throws -> Bool {
        guard path.withCString({ unlink($0) }) == 0 else {
            let code = errno
            if code == ENOENT {
                return false
            }
            throw Self.failure("unlink", path, code)
        }
        return true
    }

    /// `rename(2)`: replaces `destination` atomically.
    static func renameFile(_ source: RawPath, to destination: RawPath) throws {
        let result = source.withCString { from in destination.withCString { to in rename(from, to) } }
        guard result == 0 else { throw Self.failure("rename", destination) }
    }

    /// `link(2)`; returns the errno on failure, so callers can retry on `EEXIST`.
    static func hardLink(_ source: RawPath, to destination: RawPath) -> Int32? {
        let result = source.withCString { from in destination.withCString { to in link(from, to) } }
        return result == 0 ? nil : errno
    }
}
