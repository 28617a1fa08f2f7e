// The one error type of the POSIX layer: what was done, to which path, and errno's text.

public import SystemPackage

/// A failed file-system call: the operation, the path it was made on and the `errno` it set.
///
/// The description reads like `rename /var/mail/alice/tmp/x: No space left on device`. It never
/// holds file contents, so it may be logged.
public struct FileIOError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The call or step that failed (`open`, `fsync`, `rename`, ...).
    public var operation: String
    /// The path it was made on (for errors of an open file, the path it was opened with).
    public var path: FilePath
    /// What the kernel said.
    public var errno: Errno

    public init(_ operation: String, _ path: FilePath, _ errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// `operation path: strerror(errno)`; a path that is not UTF-8 shows U+FFFD.
    public var description: String { "\(self.operation) \(self.path): \(self.errno)" }

    /// The path (or a directory on it) does not exist.
    public var isNotFound: Bool { self.errno == .noSuchFileOrDirectory || self.errno == .notDirectory }

    /// A read gave up because the file is larger than the limit asked for (`EFBIG`).
    public var isTooLarge: Bool { self.errno == .fileTooLarge }
}

extension Errno {
    /// The calling thread's current `errno`.
    static var current: Errno { Errno(rawValue: SystemCalls.errnoValue) }
}
