// An open file: swift-system's FileDescriptor plus the path it was opened with, so every error
// names the file. All of these block: run them through `BlockingIO`.

import CFileIO
public import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open file descriptor and the path it was opened with.
///
/// A value type with no ownership tracking: exactly one holder calls `close()`. Reads and writes
/// retry on `EINTR`; writes always write everything or throw.
public struct File: Sendable {
    public let descriptor: FileDescriptor
    public let path: FilePath

    public init(descriptor: FileDescriptor, path: FilePath) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Standard input (descriptor 0), for errors named `standard input`.
    public static var standardInput: File { File(descriptor: .standardInput, path: "standard input") }

    /// Standard output (descriptor 1).
    public static var standardOutput: File { File(descriptor: .standardOutput, path: "standard output") }

    // MARK: Opening

    /// `open(2)` with close-on-exec always set.
    ///
    /// - Parameters:
    ///   - permissions: the mode of a file created by `.create` (0600 when not given).
    public static func open(
        _ path: FilePath,
        _ access: FileDescriptor.AccessMode,
        options: FileDescriptor.OpenOptions = [],
        permissions: FilePermissions = [.ownerRead, .ownerWrite]
    ) throws(FileIOError) -> File {
        let descriptor = try call(options.contains(.create) ? "create" : "open", path) {
            try FileDescriptor.open(
                path,
                access,
                options: options.union(.closeOnExec),
                permissions: options.contains(.create) ? permissions : nil
            )
        }
        return File(descriptor: descriptor, path: path)
    }

    /// Opens `path` for reading, or returns `nil` when it does not exist.
    public static func openForReading(_ path: FilePath) throws(FileIOError) -> File? {
        do {
            return try Self.open(path, .readOnly)
        } catch  where error.isNotFound {
            return nil
        }
    }

    // MARK: Reading

    /// One `read(2)`: up to `buffer.count` octets, 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileIOError) -> Int {
        try call("read", self.path) { try self.descriptor.read(into: buffer) }
    }

    /// One `pread(2)` at `offset`: up to `buffer.count` octets, 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(FileIOError) -> Int {
        try call("read", self.path) { try self.descriptor.read(fromAbsoluteOffset: Int64(offset), into: buffer) }
    }

    /// Up to `count` octets at `offset`; fewer only at the end of the file.
    public func read(count: Int, at offset: Int) throws(FileIOError) -> [UInt8] {
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = try call("read", self.path) {
                try bytes.withUnsafeMutableBytes { buffer in
                    try self.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), at: offset + filled)
                }
            }
            if got == 0 {
                break
            }
            filled += got
        }
        bytes.removeSubrange(filled...)
        return bytes
    }

    /// Everything from the current position to the end of the file; throws `EFBIG` when that is
    /// more than `limit` octets.
    public func readToEnd(limit: Int = .max) throws(FileIOError) -> [UInt8] {
        let expected = (try? self.status().size) ?? 0
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(limit, expected) + 1)
        // Reads of the expected size (plus one octet, to see the end in the same call when the
        // file did not grow), at least 4 KiB and at most 1 MiB at a time, copied with memcpy.
        let chunkSize = min(max(min(limit, expected) + 1, 4096), 1 << 20)
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: chunkSize)
        defer { buffer.deallocate() }
        while true {
            let got = try self.read(into: UnsafeMutableRawBufferPointer(buffer))
            if got == 0 {
                return bytes
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<got]))
            guard bytes.count <= limit else { throw FileIOError("read", self.path, .fileTooLarge) }
        }
    }

    // MARK: Writing

    /// Writes all of `bytes` at the current position.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileIOError) {
        _ = try call("write", self.path) { try self.descriptor.writeAll(bytes) }
    }

    /// Writes all of `bytes` at the current position.
    public func write(_ bytes: some Sequence<UInt8>) throws(FileIOError) {
        _ = try call("write", self.path) { try self.descriptor.writeAll(bytes) }
    }

    /// Writes all of `bytes` at `offset` (`pwrite(2)`), leaving the position alone.
    public func write(_ bytes: some Sequence<UInt8>, at offset: Int) throws(FileIOError) {
        _ = try call("write", self.path) { try self.descriptor.writeAll(toAbsoluteOffset: Int64(offset), bytes) }
    }

    /// `fsync(2)`: the content and size are durable when this returns.
    public func sync() throws(FileIOError) {
        try check("fsync", self.path, fsync(self.descriptor.rawValue))
    }

    /// Starts writing what was written to the disk without waiting (Linux `sync_file_range(2)`,
    /// `SYNC_FILE_RANGE_WRITE`; nothing elsewhere). Not durability: `sync()` still is. Starting
    /// the writeback of many files before fsyncing the first lets one journal commit cover them
    /// all, so the fsyncs after it find their work done. Advisory: a failure here shows at
    /// `sync()`.
    public func startWriteback() {
        _ = postoffice_start_writeback(self.descriptor.rawValue)
    }

    /// `ftruncate(2)`.
    public func truncate(to size: Int) throws(FileIOError) {
        try call("truncate", self.path) { try self.descriptor.resize(to: Int64(size)) }
    }

    /// Moves the position to the end; returns the file's size.
    @discardableResult
    public func seekToEnd() throws(FileIOError) -> Int {
        Int(try call("seek", self.path) { try self.descriptor.seek(offset: 0, from: .end) })
    }

    /// Moves the position to `offset` from the start.
    public func seek(to offset: Int) throws(FileIOError) {
        _ = try call("seek", self.path) { try self.descriptor.seek(offset: Int64(offset), from: .start) }
    }

    /// `fstat(2)`.
    public func status() throws(FileIOError) -> FileStatus {
        var info = stat()
        try check("fstat", self.path, fstat(self.descriptor.rawValue, &info))
        return FileStatus(info)
    }

    /// `fchmod(2)`.
    public func setPermissions(_ permissions: UInt32) throws(FileIOError) {
        try check("chmod", self.path, fchmod(self.descriptor.rawValue, mode_t(permissions)))
    }

    // MARK: Locks

    /// Takes an exclusive `flock(2)` on the open file description. With `wait`, blocks until it
    /// is free and returns `true`; without, returns `false` at once when another holder has it.
    /// The kernel drops the lock when the last descriptor of the description closes.
    @discardableResult
    public func lock(wait: Bool) throws(FileIOError) -> Bool {
        while flock(self.descriptor.rawValue, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
            let error = Errno.current
            if error == .interrupted {
                continue
            }
            if !wait, error == .wouldBlock {
                return false
            }
            throw FileIOError("flock", self.path, error)
        }
        return true
    }

    /// Releases a `flock(2)`.
    public func unlock() {
        _ = flock(self.descriptor.rawValue, LOCK_UN)
    }

    /// Takes a POSIX record lock (`fcntl(2)`, `F_WRLCK` over the whole file), waiting for it:
    /// the lock mail delivery agents and readers use on mbox files. It belongs to the process,
    /// so it does not exclude other threads of this process (see `RecordLock`), and closing any
    /// descriptor of the file in this process drops it.
    public func lockRecords() throws(FileIOError) {
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        while fcntl(self.descriptor.rawValue, F_SETLKW, &lock) != 0 {
            let error = Errno.current
            guard error == .interrupted else { throw FileIOError("lock", self.path, error) }
        }
    }

    // MARK: Closing

    /// `close(2)`. An error here can mean lost writes on some file systems (NFS): check it for
    /// files you wrote.
    public func close() throws(FileIOError) {
        try call("close", self.path) { try self.descriptor.close() }
    }

    /// `close(2)`, ignoring errors: for files only read, or on a path that already failed.
    public func closeQuietly() {
        try? self.descriptor.close()
    }
}

// MARK: - Helpers shared by the layer

/// Runs a swift-system call, mapping its `Errno` to a `FileIOError` (one thrown by a nested
/// call of this layer passes unchanged).
@inline(__always)
func call<T>(_ operation: String, _ path: FilePath, _ body: () throws -> T) throws(FileIOError) -> T {
    do {
        return try body()
    } catch let error as FileIOError {
        throw error
    } catch let error as Errno {
        throw FileIOError(operation, path, error)
    } catch {
        throw FileIOError(operation, path, .ioError)
    }
}

/// Checks a libc result of 0 (success) or -1 (errno set).
@inline(__always)
func check(_ operation: String, _ path: FilePath, _ result: Int32) throws(FileIOError) {
    guard result == 0 else { throw FileIOError(operation, path, .current) }
}

enum SystemCalls {
    static var errnoValue: Int32 { errno }
}
