// Maildir delivery (maildir(5), "How a message is delivered"): write to tmp/, fsync, close, then
// link (or rename) into new/ and fsync new/. The one place that publishes a Maildir file, for
// `deliver` (whole buffer, generated names) and fetch (streamed, names of its own).

public import FileIO
public import NIOCore
import SystemPackage

extension Maildir {
    /// Names tried before a delivery gives up (each is unique by construction; this only
    /// guards against a clock set back onto an existing name).
    public static let deliveryAttempts = 5

    /// Delivers `message` into `new/` under a newly generated unique name, creating the Maildir
    /// if needed.
    ///
    /// The message is written to `tmp/<unique>` (created exclusively), fsynced and closed
    /// (maildir(5), NFS-writing), then linked to `new/<unique>,S=<size>,W=<crlf size>` and the
    /// `tmp/` name removed; finally `new/` is fsynced. `S` is the stored size and `W` the size
    /// with CRLF line ends, as Dovecot writes them. Returns where the message now is.
    public func deliver(_ message: [UInt8], hostname: String) throws -> MaildirLocation {
        try self.create()
        let virtualSize = CRLFSizeCounter.size(of: message)
        for _ in 0..<Self.deliveryAttempts {
            let unique = MaildirUniqueName.generate(host: hostname)
            let temporary = self.temporaryDirectory.appending(unique)
            do {
                try FileSystem.writeNewFile(temporary, message)
            } catch {
                guard error.errno == .fileExists else { throw error }
                continue
            }
            let name = MaildirFilename(unique: unique, size: message.count, virtualSize: virtualSize)
            if try self.publish(temporary, as: name, replacingSameName: false) {
                return MaildirLocation(subdirectory: .new, name: name)
            }
        }
        throw MailStoreError.io("no unique name for a delivery after \(Self.deliveryAttempts) attempts")
    }

    /// Stores `message` byte for byte under a name the caller chose, in `location`'s
    /// subdirectory: a copy that keeps each message's name (so the UIDL the Maildir store gives
    /// it), flags and, given `modificationTime`, its delivery time, as `postoffice migrate`
    /// makes it. Written to `tmp/<temporaryName>`, fsynced, then linked into place without
    /// replacing anything, and the directory fsynced. Returns `false`, storing nothing, when
    /// the name is taken. Creates the Maildir if needed.
    public func store(
        _ message: [UInt8],
        as location: MaildirLocation,
        temporaryName: String,
        modificationTime: FileTime? = nil
    ) throws -> Bool {
        try self.create()
        let temporary = self.temporaryDirectory.appending(temporaryName)
        _ = try FileSystem.remove(temporary)  // the leftover of an interrupted run
        try FileSystem.writeNewFile(temporary, message)
        if let modificationTime {
            try FileSystem.setTimes(temporary, to: modificationTime)
        }
        return try self.publish(temporary, as: location.name, in: location.subdirectory, replacingSameName: false)
    }

    /// Starts a streamed delivery under a unique part the caller chose (see
    /// `MaildirMessageWriter`). The Maildir must exist (`create()`): a writer per message does
    /// not stat the layout again.
    ///
    /// - Parameters:
    ///   - uniquePart: the base name before `,S=`, for example from
    ///     `MaildirUniqueName.format(seconds:identifier:host:)`.
    ///   - temporaryName: the file's name in `tmp/`. A name that does not change between runs
    ///     makes a rerun overwrite the leftover of a crashed one.
    ///   - computeDigest: keep the SHA-256 of the stored bytes.
    public func makeWriter(uniquePart: String, temporaryName: String, computeDigest: Bool = false) throws
        -> MaildirMessageWriter
    {
        try MaildirMessageWriter(
            maildir: self,
            uniquePart: uniquePart,
            temporaryName: temporaryName,
            computeDigest: computeDigest
        )
    }

    /// Moves the finished file `temporary` into `new/` (or `subdirectory`) as `name` and fsyncs
    /// that directory. Returns `false` (having removed `temporary`) when `name` is taken and
    /// `replacingSameName` is not set.
    ///
    /// Generated names are published with `link(2)`, which refuses to replace; a file system
    /// without hard links gets a rename after checking that the name is free. A name the caller
    /// derived from the message's identity (`replacingSameName`) is published with `rename(2)`:
    /// a file of that name is an earlier copy of the same message.
    func publish(
        _ temporary: FilePath,
        as name: MaildirFilename,
        in subdirectory: MaildirSubdirectory = .new,
        replacingSameName: Bool,
        syncDirectory: Bool = true
    ) throws -> Bool {
        let destination = self.path(of: MaildirLocation(subdirectory: subdirectory, name: name))
        if replacingSameName {
            try FileSystem.rename(temporary, to: destination)
        } else {
            do {
                try FileSystem.link(temporary, to: destination)
                try FileSystem.remove(temporary)
            } catch {
                switch error.errno {
                case .fileExists:
                    try FileSystem.remove(temporary)
                    return false
                case .notPermitted, .notSupported, .noFunction, .tooManyLinks, .improperLink:
                    guard try FileSystem.status(destination) == nil else {
                        try FileSystem.remove(temporary)
                        return false
                    }
                    try FileSystem.rename(temporary, to: destination)
                default:
                    _ = try? FileSystem.remove(temporary)
                    throw error
                }
            }
        }
        if syncDirectory {
            try FileSystem.syncDirectory(self.path(of: subdirectory))
        }
        return true
    }

    /// fsyncs the given subdirectories (`new/` last): the group sync after
    /// `MaildirMessageWriter.commitDeferringSync(replacing:)`.
    public func syncDirectories(_ subdirectories: Set<MaildirSubdirectory>) throws {
        for subdirectory in MaildirSubdirectory.allCases.reversed() where subdirectories.contains(subdirectory) {
            try FileSystem.syncDirectory(self.path(of: subdirectory))
        }
    }
}

/// A message made visible without fsyncing its directory: where it is, and the directories a
/// later `Maildir.syncDirectories(_:)` must fsync to make it (and the removal of the copies it
/// replaced) durable.
public struct MaildirCommit: Hashable, Sendable {
    public var location: MaildirLocation
    public var unsyncedDirectories: Set<MaildirSubdirectory>
}

/// A message streamed into a Maildir: written to `tmp/`, made durable by `finish()`, made
/// visible in `new/` by `commit(replacing:)`. A group of messages can end each one's content
/// first (`endContent()`, which starts its writeback) and `finish()` them afterwards, so the
/// disk gets the group's writes together and their fsyncs share journal commits.
///
/// The file is `new/<unique part>,S=<size>,W=<crlf size>`: `S` the stored size, `W` the size
/// with CRLF line ends (Dovecot's convention). Message bytes arrive with CRLF line ends, as a
/// POP3 server sends them, and are stored with LF. Blocking: use it on a `BlockingIO` thread.
public final class MaildirMessageWriter {
    public let maildir: Maildir
    public let uniquePart: String
    private let writer: MessageFileWriter
    private var finishedDigest: [UInt8]?
    private var contentEnded = false

    init(maildir: Maildir, uniquePart: String, temporaryName: String, computeDigest: Bool) throws {
        self.maildir = maildir
        self.uniquePart = uniquePart
        self.writer = try MessageFileWriter(
            path: maildir.temporaryDirectory.appending(temporaryName),
            quoteFromLines: false,
            computeDigest: computeDigest
        )
    }

    /// Writes bytes verbatim (a trace header).
    public func writeRaw(_ bytes: some Sequence<UInt8>) throws {
        try self.writer.writeRaw(bytes)
    }

    /// Writes message bytes (CRLF line ends become LF).
    public func write(_ chunk: ByteBuffer) throws {
        try self.writer.writeMessage(chunk)
    }

    /// Ends the message content: writes out what is buffered and starts writing it to the disk
    /// without waiting. Nothing is durable until `finish()`.
    public func endContent() throws {
        try self.endContent(startingWriteback: true)
    }

    private func endContent(startingWriteback: Bool) throws {
        guard !self.contentEnded else { return }
        try self.writer.finishMessage()
        self.finishedDigest = try self.writer.digest()
        if startingWriteback { try self.writer.startWriteback() }
        self.contentEnded = true
    }

    /// Ends the message (if `endContent()` did not): writes out what is buffered, fsyncs and
    /// closes the `tmp/` file.
    public func finish() throws {
        try self.endContent(startingWriteback: false)
        try self.writer.sync()
        try self.writer.close()
    }

    /// The SHA-256 of the stored bytes (after `finish()`, when asked for).
    public var digest: [UInt8]? { self.finishedDigest }

    /// The name the message gets in `new/` (after `finish()`).
    public var name: MaildirFilename {
        MaildirFilename(unique: self.uniquePart, size: self.writer.size, virtualSize: self.writer.crlfSize)
    }

    /// Renames the finished file into `new/`, removes the copies at `replacing` (a headers-only
    /// or short copy this message completes), and fsyncs the directories changed. Returns its
    /// location.
    public func commit(replacing: [MaildirLocation] = []) throws -> MaildirLocation {
        let commit = try self.commitDeferringSync(replacing: replacing)
        try self.maildir.syncDirectories(commit.unsyncedDirectories)
        return commit.location
    }

    /// Like `commit(replacing:)`, but leaves the fsync of the changed directories to the caller,
    /// so a group of messages costs one directory fsync (`Maildir.syncDirectories(_:)`). A copy
    /// at `replacing` is removed only after `new/` is fsynced, so a crash never leaves neither.
    public func commitDeferringSync(replacing: [MaildirLocation] = []) throws -> MaildirCommit {
        let name = self.name
        _ = try self.maildir.publish(self.writer.path, as: name, replacingSameName: true, syncDirectory: false)
        let location = MaildirLocation(subdirectory: .new, name: name)
        var unsynced: Set<MaildirSubdirectory> = [.new]
        let others = replacing.filter { $0 != location }
        if !others.isEmpty {
            try FileSystem.syncDirectory(self.maildir.path(of: .new))
            // The new copy is stored: a copy that cannot be removed stays beside it rather than
            // failing a delivery that happened.
            for old in others {
                _ = try? FileSystem.remove(self.maildir.path(of: old))
                unsynced.insert(old.subdirectory)
            }
        }
        return MaildirCommit(location: location, unsyncedDirectories: unsynced)
    }

    /// Abandons the message: removes the `tmp/` file.
    public func discard() {
        self.writer.remove()
    }
}
