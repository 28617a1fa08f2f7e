#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error from the file system, with the path and the C library's reason.
public struct FileSystemError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var operation: String
    public var code: Int32

    public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}

/// Thin, blocking POSIX file helpers. Callers run them off any event loop.
enum FileSystem {
    struct Status: Sendable {
        var size: Int
        var modificationNanoseconds: Int64
        var isDirectory: Bool
        var isRegularFile: Bool
    }

    static func status(_ path: String) -> Status? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Status(info)
    }

    static func status(at directory: Int32, _ name: String) -> Status? {
        var info = stat()
        guard fstatat(directory, name, &info, 0) == 0 else { return nil }
        return Status(info)
    }

    /// Names in a directory, without `.`, `..` and names starting with a dot.
    static func listVisible(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else {
            throw FileSystemError(path: path, operation: "open directory", code: errno)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasPrefix(".") { continue }
            names.append(name)
        }
        return names
    }

    /// Every name in a directory except `.` and `..`.
    static func listAll(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else {
            throw FileSystemError(path: path, operation: "open directory", code: errno)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names
    }

    static func readFile(_ path: String, limit: Int = Int.max) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileSystemError(path: path, operation: "open", code: errno) }
        defer { close(descriptor) }
        return try readAll(descriptor, path: path, offset: nil, length: limit)
    }

    /// Reads `length` octets at `offset` (or from the current position), stopping early at EOF.
    static func readAll(_ descriptor: Int32, path: String, offset: Int?, length: Int) throws -> [UInt8] {
        var info = stat()
        let expected = fstat(descriptor, &info) == 0 ? Int(info.st_size) : 64 * 1024
        var capacity = min(length, max(0, expected - (offset ?? 0)) + 1)
        capacity = max(capacity, 1)
        var result = [UInt8]()
        result.reserveCapacity(capacity)
        var chunk = [UInt8](repeating: 0, count: min(max(capacity, 4096), 1 << 20))
        var position = offset ?? 0
        while result.count < length {
            let want = min(chunk.count, length - result.count)
            let count = chunk.withUnsafeMutableBytes { buffer in
                offset == nil
                    ? read(descriptor, buffer.baseAddress, want)
                    : pread(descriptor, buffer.baseAddress, want, off_t(position))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(path: path, operation: "read", code: errno)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            position += count
        }
        return result
    }

    /// Writes `bytes` to `path` through a temporary file and rename, so readers see the old
    /// or the new content, never a mix.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp.\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSystemError(path: temporary, operation: "create", code: errno) }
        do {
            try writeAll(descriptor, bytes, path: temporary)
            guard fsync(descriptor) == 0 else {
                throw FileSystemError(path: temporary, operation: "fsync", code: errno)
            }
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw FileSystemError(path: path, operation: "rename", code: code)
        }
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws {
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, bytes.count - written)  // safe: written < count
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(path: path, operation: "write", code: errno)
            }
            written += count
        }
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func currentNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}

extension FileSystem.Status {
    init(_ info: stat) {
        self.size = Int(info.st_size)
        self.modificationNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        self.isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        self.isRegularFile = (info.st_mode & S_IFMT) == S_IFREG
    }
}
