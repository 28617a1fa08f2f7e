// An open directory: listing with d_type, and stat/open/unlink of names relative to it, so
// a directory of 100,000 messages is handled without building a path per file. Names are bytes:
// a file name need not be UTF-8.

public import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One name in a directory listing.
public struct DirectoryEntry: Hashable, Sendable {
    /// What `d_type` says the entry is.
    public enum Kind: Hashable, Sendable {
        case regular
        case directory
        case symbolicLink
        case other
        /// The file system does not say (`DT_UNKNOWN`): stat it to know.
        case unknown

        /// Whether it can be (or, for a link, point to) a regular file; `false` only when
        /// `d_type` says for sure that it is not.
        public var mayBeRegularFile: Bool {
            switch self {
            case .regular, .symbolicLink, .unknown: return true
            case .directory, .other: return false
            }
        }
    }

    /// The name as the kernel gave it, without a terminating NUL.
    public var name: [UInt8]
    public var kind: Kind

    public init(name: [UInt8], kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// Whether it can be (or, for a link, point to) a regular file; `false` only when `d_type`
    /// says for sure that it is not.
    public var mayBeRegularFile: Bool { self.kind.mayBeRegularFile }

    /// Whether it can be (or point to) a directory.
    public var mayBeDirectory: Bool {
        switch self.kind {
        case .directory, .symbolicLink, .unknown: return true
        case .regular, .other: return false
        }
    }
}

/// An open directory (`O_DIRECTORY`). Exactly one holder calls `close()`.
public struct Directory: Sendable {
    public let descriptor: FileDescriptor
    public let path: FilePath

    /// Opens the directory at `path`.
    public static func open(_ path: FilePath) throws(FileIOError) -> Directory {
        let descriptor = try call("open directory", path) {
            try FileDescriptor.open(path, .readOnly, options: [.directory, .closeOnExec])
        }
        return Directory(descriptor: descriptor, path: path)
    }

    /// Opens the directory at `path`, or returns `nil` when it does not exist.
    public static func openIfExists(_ path: FilePath) throws(FileIOError) -> Directory? {
        do {
            return try Self.open(path)
        } catch  where error.isNotFound {
            return nil
        }
    }

    /// Lists the directory in the kernel's order, without `.` and `..`.
    ///
    /// - Parameter skippingHidden: also leave out every name that starts with `.` (maildir(5)
    ///   readers skip them).
    public func entries(skippingHidden: Bool = false) throws(FileIOError) -> [DirectoryEntry] {
        var entries: [DirectoryEntry] = []
        try self.forEachEntry(skippingHidden: skippingHidden) { name, kind in
            entries.append(DirectoryEntry(name: Array(name), kind: kind))
        }
        return entries
    }

    /// Calls `body` with each name of the directory in the kernel's order, without `.` and `..`
    /// (and, with `skippingHidden`, without any name starting with `.`), and with what `d_type`
    /// says it is.
    ///
    /// The name is lent, not copied: it is valid only during the call. A listing of a large
    /// Maildir allocates nothing per name this way unless `body` keeps it.
    public func forEachEntry(
        skippingHidden: Bool = false,
        _ body: (_ name: UnsafeRawBufferPointer, _ kind: DirectoryEntry.Kind) -> Void
    ) throws(FileIOError) {
        // fdopendir takes the descriptor it is given: hand it a duplicate and rewind, since the
        // duplicate shares the read position with ours.
        let duplicate = dup(self.descriptor.rawValue)
        guard duplicate >= 0 else { throw FileIOError("open directory", self.path, .current) }
        guard let stream = fdopendir(duplicate) else {
            let error = Errno.current
            closeDescriptor(duplicate)
            throw FileIOError("open directory", self.path, error)
        }
        defer { closedir(stream) }
        rewinddir(stream)
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                let code = errno
                if code != 0 {
                    throw FileIOError("readdir", self.path, Errno(rawValue: code))
                }
                return
            }
            let kind = Self.kind(entry.pointee.d_type)
            withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                let raw = UnsafeRawPointer(pointer)
                let name = UnsafeRawBufferPointer(start: raw, count: strlen(raw.assumingMemoryBound(to: CChar.self)))
                guard let first = name.first else { return }
                if first == UInt8(ascii: ".") {
                    if skippingHidden || name.count == 1 || (name.count == 2 && name[1] == UInt8(ascii: ".")) {
                        return
                    }
                }
                body(name, kind)
            }
        }
    }

    /// `fstatat(2)` of `name` in this directory, following a symbolic link; `nil` when there is
    /// no such file.
    public func status(of name: some Collection<UInt8>) throws(FileIOError) -> FileStatus? {
        var info = stat()
        let result = Self.withCName(name) { fstatat(self.descriptor.rawValue, $0, &info, 0) }
        guard result == 0 else {
            let error = Errno.current
            if error == .noSuchFileOrDirectory || error == .notDirectory {
                return nil
            }
            throw FileIOError("stat", self.path(of: name), error)
        }
        return FileStatus(info)
    }

    /// Opens `name` in this directory for reading, or returns `nil` when there is no such file.
    public func openForReading(_ name: some Collection<UInt8>) throws(FileIOError) -> File? {
        let fd = Self.withCName(name) { openat(self.descriptor.rawValue, $0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else {
            let error = Errno.current
            if error == .noSuchFileOrDirectory {
                return nil
            }
            throw FileIOError("open", self.path(of: name), error)
        }
        return File(descriptor: FileDescriptor(rawValue: fd), path: self.path(of: name))
    }

    /// Removes `name` from this directory; returns `false` when there was no such file.
    @discardableResult
    public func remove(_ name: some Collection<UInt8>) throws(FileIOError) -> Bool {
        let result = Self.withCName(name) { unlinkat(self.descriptor.rawValue, $0, 0) }
        guard result == 0 else {
            let error = Errno.current
            if error == .noSuchFileOrDirectory {
                return false
            }
            throw FileIOError("unlink", self.path(of: name), error)
        }
        return true
    }

    /// `fsync(2)` on the directory: the names created, renamed or removed in it are durable.
    public func sync() throws(FileIOError) {
        try check("fsync", self.path, fsync(self.descriptor.rawValue))
    }

    /// The path of `name` in this directory (for messages and for calls that need a path).
    public func path(of name: some Collection<UInt8>) -> FilePath {
        self.path.appending(rawComponent: name)
    }

    public func close() {
        try? self.descriptor.close()
    }

    // MARK: Helpers

    /// Calls `body` with `name` as a NUL-terminated C string, on the stack for short names.
    static func withCName<R>(_ name: some Collection<UInt8>, _ body: (UnsafePointer<CChar>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: name.count + 1) { buffer in
            var index = 0
            for byte in name {
                buffer[index] = CChar(bitPattern: byte)
                index += 1
            }
            buffer[index] = 0
            return body(UnsafePointer(buffer.baseAddress!))  // safe: capacity ≥ 1
        }
    }

    private static func kind(_ type: UInt8) -> DirectoryEntry.Kind {
        switch Int32(type) {
        case Int32(DT_REG): return .regular
        case Int32(DT_DIR): return .directory
        case Int32(DT_LNK): return .symbolicLink
        case Int32(DT_UNKNOWN): return .unknown
        default: return .other
        }
    }
}

/// `close(2)` where a method named `close` hides the global function.
private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}

// MARK: - Byte paths

extension FilePath {
    /// A path from raw bytes, which need not be UTF-8 (a NUL ends it early).
    public init(rawBytes bytes: some Collection<UInt8>) {
        var characters = bytes.map { CChar(bitPattern: $0) }
        characters.append(0)
        self.init(platformString: characters)
    }

    /// `self/name` for one component given as bytes.
    public func appending(rawComponent name: some Collection<UInt8>) -> FilePath {
        var bytes = self.rawBytes
        if bytes.last != UInt8(ascii: "/") {
            bytes.append(UInt8(ascii: "/"))
        }
        bytes.append(contentsOf: name)
        return FilePath(rawBytes: bytes)
    }

    /// The path's bytes, without a terminating NUL.
    public var rawBytes: [UInt8] {
        self.withPlatformString { pointer in
            Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
        }
    }
}
