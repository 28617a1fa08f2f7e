// The OS-level half of maildrop exclusivity (RFC 1939 §8: the server acquires an exclusive
// lock on the maildrop; style guide B6): flock(2) on a lock file in the Maildir root.

import FileIO
import NIOConcurrencyHelpers
import SystemPackage

/// The lock files this process holds, by device and inode.
///
/// flock(2) conflicts between open file descriptions, so two sessions of one process already
/// exclude each other on a local file system. On NFS, Linux emulates flock with POSIX record
/// locks, which never conflict within one process and are dropped when the process closes any
/// descriptor of the file; checking this set before even opening the file keeps both properties.
private let locksHeldInThisProcess = NIOLockedValueBox<Set<MaildropLockFile.Identity>>([])

/// An exclusive, non-blocking flock on `postoffice.lock`, released by the kernel if the process
/// dies. It also holds the lease generation: a line written by each new holder.
struct MaildropLockFile: Sendable {
    struct Identity: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    static let fileName = "postoffice.lock"

    /// What ``acquire(path:budget:)`` found.
    enum Acquisition {
        case acquired(MaildropLockFile)
        /// Another session (in any process) holds the lock.
        case inUse
        /// The process's descriptor budget has no room for another lock file.
        case noDescriptor
    }

    let file: File
    let identity: Identity
    /// The budget the lock file's descriptor is counted against.
    let budget: DescriptorBudget

    var path: FilePath { self.file.path }

    /// Takes the lock, counting its descriptor against `budget`.
    static func acquire(path: FilePath, budget: DescriptorBudget) throws(FileIOError) -> Acquisition {
        var status = try FileSystem.status(path)
        if status == nil {
            try File.open(path, .writeOnly, options: [.create]).closeQuietly()
            status = try FileSystem.status(path)
        }
        guard let status else { throw FileIOError("stat", path, .noSuchFileOrDirectory) }
        let identity = Identity(device: status.device, inode: status.inode)
        let inserted = locksHeldInThisProcess.withLockedValue { $0.insert(identity).inserted }
        guard inserted else { return .inUse }
        guard budget.takeFile() else {
            _ = locksHeldInThisProcess.withLockedValue { $0.remove(identity) }
            return .noDescriptor
        }
        func giveUp() {
            budget.returnFile()
            _ = locksHeldInThisProcess.withLockedValue { $0.remove(identity) }
        }

        let file: File
        do {
            file = try File.open(path, .readWrite)
        } catch {
            giveUp()
            throw error
        }
        let locked: Bool
        do {
            locked = try file.lock(wait: false)
        } catch {
            file.closeQuietly()
            giveUp()
            throw error
        }
        guard locked else {
            file.closeQuietly()
            giveUp()
            return .inUse
        }
        return .acquired(MaildropLockFile(file: file, identity: identity, budget: budget))
    }

    /// Unlocks and closes. The lock file itself stays: removing it would let a second locker
    /// lock a new file while a third still holds the old one.
    func release() {
        self.file.unlock()
        self.file.closeQuietly()
        self.budget.returnFile()
        _ = locksHeldInThisProcess.withLockedValue { $0.remove(self.identity) }
    }

    /// The longest generation line read back.
    static let maximumGenerationLength = 256

    /// The current generation line (empty if none was written).
    func readGeneration() throws(FileIOError) -> [UInt8] {
        try self.file.read(count: Self.maximumGenerationLength, at: 0)
    }

    /// The generation line in the lock file at `path`, read without taking the lock (a
    /// released session looking whether it was taken over). Blocking.
    static func readGeneration(path: FilePath) throws(FileIOError) -> [UInt8] {
        let file = try File.open(path, .readOnly)
        defer { file.closeQuietly() }
        return try file.read(count: Self.maximumGenerationLength, at: 0)
    }

    /// Writes the next generation: `generation <n+1> pid <pid> nonce <random>`. The nonce makes
    /// it unique even if the file was emptied and the counter restarted. Made as bytes, and the
    /// file truncated only when the line is shorter than the one it replaces: one read and one
    /// write at each login.
    func writeNextGeneration() throws(FileIOError) -> [UInt8] {
        let previous = try self.readGeneration()
        var number = 0
        let prefix = Array("generation ".utf8)
        if previous.starts(with: prefix) {
            let digits = previous[prefix.count...].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            number = MaildirFilename.decimal(digits) ?? 0
        }
        // Each number is a small string (at most 16 digits): formatted without allocating.
        var line = prefix
        line.reserveCapacity(80)
        line.append(contentsOf: String(number + 1).utf8)
        line.append(contentsOf: " pid ".utf8)
        line.append(contentsOf: String(SystemIdentity.processID).utf8)
        line.append(contentsOf: " nonce ".utf8)
        line.append(contentsOf: String(UInt64.random(in: .min ... .max), radix: 16).utf8)
        line.append(UInt8(ascii: "\n"))
        try self.file.write(line, at: 0)
        if line.count < previous.count {
            try self.file.truncate(to: line.count)
        }
        return line
    }
}
