// What the store and its neighbours need of stat(2), and the real-time clock files are dated by.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A point in real time (`CLOCK_REALTIME`), as file times are given: seconds and nanoseconds
/// since 1970.
public struct FileTime: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var seconds: Int
    /// 0 to 999,999,999.
    public var nanoseconds: Int

    public init(seconds: Int, nanoseconds: Int = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// Now, from the real-time clock.
    public static func now() -> FileTime {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return FileTime(now)
    }

    /// Nanoseconds since 1970 (good until the year 2262).
    public var totalNanoseconds: Int64 { Int64(self.seconds) * 1_000_000_000 + Int64(self.nanoseconds) }

    public static func < (lhs: FileTime, rhs: FileTime) -> Bool {
        (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
    }

    public var description: String { "\(self.seconds).\(self.nanoseconds)" }

    init(_ time: timespec) {
        self.init(seconds: Int(time.tv_sec), nanoseconds: Int(time.tv_nsec))
    }
}

/// The parts of `stat(2)` that callers use.
public struct FileStatus: Hashable, Sendable {
    /// What kind of file it is.
    public enum Kind: Hashable, Sendable {
        case regular
        case directory
        case symbolicLink
        case other
    }

    public var kind: Kind
    /// Size in octets.
    public var size: Int
    public var modification: FileTime
    public var access: FileTime
    /// The last change of the inode (`st_ctim`): set by the kernel on every write, rename,
    /// link count or permission change, and never settable by a program (unlike the mtime).
    public var change: FileTime
    public var device: UInt64
    public var inode: UInt64
    /// The permission bits (`st_mode & 0o7777`).
    public var permissions: UInt32

    public var isRegularFile: Bool { self.kind == .regular }
    public var isDirectory: Bool { self.kind == .directory }

    /// The same file in the same version: device, inode, size and modification time agree.
    /// A change of any of them means the content may have changed.
    public func isSameVersion(as other: FileStatus) -> Bool {
        self.device == other.device && self.inode == other.inode && self.size == other.size
            && self.modification == other.modification
    }

    init(_ info: stat) {
        #if canImport(Darwin)
            let modified = info.st_mtimespec
            let accessed = info.st_atimespec
            let changed = info.st_ctimespec
        #else
            let modified = info.st_mtim
            let accessed = info.st_atim
            let changed = info.st_ctim
        #endif
        switch info.st_mode & S_IFMT {
        case S_IFREG: self.kind = .regular
        case S_IFDIR: self.kind = .directory
        case S_IFLNK: self.kind = .symbolicLink
        default: self.kind = .other
        }
        self.size = Int(info.st_size)
        self.modification = FileTime(modified)
        self.access = FileTime(accessed)
        self.change = FileTime(changed)
        self.device = UInt64(info.st_dev)
        self.inode = UInt64(info.st_ino)
        self.permissions = UInt32(info.st_mode & 0o7777)
    }
}
