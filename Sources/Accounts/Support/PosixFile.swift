// Small POSIX file helpers (the module has no Foundation): read, stat, atomic replace.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error from a file operation, with errno's text. No file contents in it.
struct PosixFileError: Error, Hashable, Sendable, CustomStringConvertible {
    var operation: String
    var path: String
    var errorNumber: Int32

    var description: String {
        "\(operation) \(path): \(String(cString: strerror(errorNumber)))"
    }

    var isNotFound: Bool { errorNumber == ENOENT }
}

/// What identifies a version of a file cheaply: a change of any of these means a re-read.
struct FileIdentity: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modificationSeconds: Int
    var modificationNanoseconds: Int
}

enum PosixFile {
    static func identity(of path: String) throws(PosixFileError) -> FileIdentity {
        var info = stat()
        guard stat(path, &info) == 0 else { throw PosixFileError(operation: "stat", path: path, errorNumber: errno) }
        return FileIdentity(info)
    }

    /// Reads the whole file and the identity of what was read (taken from the open descriptor,
    /// so a rename between stat and read cannot mix versions).
    static func readAll(_ path: String, limit: Int = 64 << 20) throws(PosixFileError) -> (
        bytes: [UInt8], identity: FileIdentity
    ) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw PosixFileError(operation: "open", path: path, errorNumber: errno) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw PosixFileError(operation: "fstat", path: path, errorNumber: errno)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw PosixFileError(operation: "read", path: path, errorNumber: errno)
            }
            if count == 0 { break }
            bytes += chunk[..<count]
            guard bytes.count <= limit else { throw PosixFileError(operation: "read", path: path, errorNumber: EFBIG) }
        }
        return (bytes, FileIdentity(info))
    }

    /// Replaces `path` with `bytes` atomically: a temporary file in the same directory, written and
    /// fsynced, renamed over the target, then the directory fsynced. A new file gets mode 0600; an
    /// existing file's mode is kept.
    static func atomicReplace(_ path: String, with bytes: [UInt8]) throws(PosixFileError) {
        var mode: mode_t = 0o600
        var info = stat()
        if stat(path, &info) == 0 { mode = info.st_mode & 0o7777 }
        var template = Array((path + ".tmp.XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }  // safe: non-empty
        guard descriptor >= 0 else {
            throw PosixFileError(operation: "create temporary file for", path: path, errorNumber: errno)
        }
        let temporaryPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var succeeded = false
        defer {
            if !succeeded { unlink(temporaryPath) }
        }
        do {
            defer { close(descriptor) }
            guard fchmod(descriptor, mode) == 0 else {
                throw PosixFileError(operation: "chmod", path: temporaryPath, errorNumber: errno)
            }
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw PosixFileError(operation: "write", path: temporaryPath, errorNumber: errno)
                }
                offset += written
            }
            guard fsync(descriptor) == 0 else {
                throw PosixFileError(operation: "fsync", path: temporaryPath, errorNumber: errno)
            }
        }
        guard rename(temporaryPath, path) == 0 else {
            throw PosixFileError(operation: "rename", path: path, errorNumber: errno)
        }
        succeeded = true
        syncDirectory(containing: path)
    }

    /// Makes the rename durable. Best effort: some file systems refuse fsync on a directory.
    private static func syncDirectory(containing path: String) {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}

extension FileIdentity {
    init(_ info: stat) {
        #if canImport(Darwin)
            let modification = info.st_mtimespec
        #else
            let modification = info.st_mtim
        #endif
        self.init(
            device: UInt64(info.st_dev),
            inode: UInt64(info.st_ino),
            size: Int64(info.st_size),
            modificationSeconds: Int(modification.tv_sec),
            modificationNanoseconds: Int(modification.tv_nsec)
        )
    }
}

/// An exclusive `flock` on a lock file, created with mode 0600 if missing; released by `unlock()`
/// or when the process ends.
final class FileLock {
    private var descriptor: Int32

    init(exclusive path: String) throws(PosixFileError) {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw PosixFileError(operation: "open lock file", path: path, errorNumber: errno) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let error = errno
                close(descriptor)
                throw PosixFileError(operation: "lock", path: path, errorNumber: error)
            }
        }
        self.descriptor = descriptor
    }

    func unlock() {
        guard descriptor >= 0 else { return }
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit {
        unlock()
    }
}
