// The OS-level half of maildrop exclusivity (RFC 1939 §8: the server acquires an exclusive
// lock on the maildrop; style guide B6): flock(2) on a lock file in the Maildir root.

import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The lock files this process holds, by device and inode.
///
/// flock(2) conflicts between open file descriptions, so two sessions of one process already
/// exclude each other on a local file system. On NFS, Linux emulates flock with POSIX record
/// locks, which never conflict within one process and are dropped when the process closes any
/// descriptor of the file; checking this set before even opening the file keeps both properties.
private let locksHeldInThisProcess = Mutex<Set<MaildropLockFile.Identity>>([])

/// An exclusive, non-blocking flock on `postoffice.lock`, released by the kernel if the process
/// dies. It also holds the lease generation: a line written by each new holder.
struct MaildropLockFile: Sendable {
    struct Identity: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    static let fileName = "postoffice.lock"

    let path: RawPath
    let descriptor: Int32
    let identity: Identity

    /// Takes the lock, or returns `nil` when another session (in any process) holds it.
    static func acquire(path: RawPath) throws -> MaildropLockFile? {
        var identity = try Self.identity(path)
        if identity == nil {
            let fd = path.withCString { open($0, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600) }
            guard fd >= 0 else { throw Posix.failure("create", path) }
            close(fd)
            identity = try Self.identity(path)
        }
        guard let identity else { throw Posix.failure("stat", path, ENOENT) }
        let inserted = locksHeldInThisProcess.withLock { $0.insert(identity).inserted }
        guard inserted else { return nil }

        let fd = path.withCString { open($0, O_RDWR | O_CLOEXEC) }
        guard fd >= 0 else {
            let code = errno
            _ = locksHeldInThisProcess.withLock { $0.remove(identity) }
            throw Posix.failure("open", path, code)
        }
        var result: Int32
        repeat {
            result = flock(fd, LOCK_EX | LOCK_NB)
        } while result != 0 && errno == EINTR
        guard result == 0 else {
            let code = errno
            close(fd)
            _ = locksHeldInThisProcess.withLock { $0.remove(identity) }
            if code == EWOULDBLOCK {
                return nil
            }
            throw Posix.failure("flock", path, code)
        }
        return MaildropLockFile(path: path, descriptor: fd, identity: identity)
    }

    /// Unlocks and closes. The lock file itself stays: removing it would let a second locker
    /// lock a new file while a third still holds the old one.
    func release() {
        _ = flock(self.descriptor, LOCK_UN)
        close(self.descriptor)
        _ = locksHeldInThisProcess.withLock { $0.remove(self.identity) }
    }

    /// The current generation line (empty if none was written).
    func readGeneration() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { pread(self.descriptor, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw Posix.failure("read", self.path) }
        return Array(buffer[..<count])
    }

    /// Writes the next generation: `generation <n+1> pid <pid> nonce <random>`. The nonce makes
    /// it unique even if the file was emptied and the counter restarted.
    func writeNextGeneration() throws -> [UInt8] {
        let previous = try self.readGeneration()
        var number = 0
        let fields = previous.split(separator: UInt8(ascii: " "))
        if fields.count >= 2, fields[0].elementsEqual("generation".utf8) {
            number = MaildirFilename.decimal(String(decoding: fields[1], as: UTF8.self)[...]) ?? 0
        }
        let nonce = String(UInt64.random(in: .min ... .max), radix: 16)
        let line = Array("generation \(number + 1) pid \(getpid()) nonce \(nonce)\n".utf8)
        let written = line.withUnsafeBytes { pwrite(self.descriptor, $0.baseAddress, $0.count, 0) }
        guard written == line.count, ftruncate(self.descriptor, off_t(line.count)) == 0 else {
            throw Posix.failure("write", self.path)
        }
        return line
    }

    private static func identity(_ path: RawPath) throws -> Identity? {
        var info = stat()
        guard path.withCString({ stat($0, &info) }) == 0 else {
            let code = errno
            if code == ENOENT {
                return nil
            }
            throw Posix.failure("stat", path, code)
        }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}
