// Appending to an mbox file under the locks mail programs use, and recognising (and repairing)
// entries appended earlier. The one mbox writer: fetch's mbox target and `mail export` use it.

public import FileIO
public import NIOCore
public import SystemPackage

/// An mbox file that entries are appended to.
///
/// Every append happens under an `fcntl` write lock on the whole file (what MTAs, MDAs and mail
/// readers use on mbox files) plus an in-process lock (`RecordLock`), is fsynced, and is undone
/// (the file truncated back) if any step fails, so the file never holds half an entry from us.
/// A new entry always follows an empty line, as the format needs: a file that does not end in
/// an empty line gets the missing line ends first.
///
/// Blocking: use it on a `BlockingIO` thread.
public struct MboxFile: Hashable, Sendable {
    public let path: FilePath

    public init(path: FilePath) {
        self.path = path
    }

    /// The directory holding the file.
    public var directory: FilePath { FileSystem.parent(of: self.path) }

    // MARK: Appending

    /// Appends what `write` writes (one or more entries, each starting with its `From ` line)
    /// at the end of the file, creating it (mode 0600) if needed. Returns the offset where the
    /// first entry starts.
    public func append(_ write: (File) throws -> Void) throws -> Int {
        try RecordLock.withExclusiveLock(opening: self.path, create: true) { file in
            let size = try file.seekToEnd()
            var prefix: [UInt8] = []
            if size > 0 {
                let tail = try file.read(count: min(2, size), at: size - min(2, size))
                if tail.last != UInt8(ascii: "\n") {
                    prefix = [0x0A, 0x0A]
                } else if tail.count == 2, tail[0] != UInt8(ascii: "\n") {
                    prefix = [0x0A]
                }
            }
            do {
                try file.write(prefix)
                try write(file)
                try file.sync()
            } catch {
                // Leave the mbox as it was: no half entry.
                try? file.truncate(to: size)
                try? file.sync()
                throw error
            }
            return size + prefix.count
        }
    }

    /// Appends the content of the file at `entry` (a spooled entry, from its `From ` line to
    /// its closing empty line). Returns the offset where it starts.
    public func append(contentsOf entry: FilePath) throws -> Int {
        let source = try File.open(entry, .readOnly)
        defer { source.closeQuietly() }
        return try self.append { file in
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = try chunk.withUnsafeMutableBytes { try source.read(into: $0) }
                if count == 0 {
                    return
                }
                try file.write(chunk[..<count])
            }
        }
    }

    /// `fsync(2)` on the file (an entry found from an interrupted run, whose writer may have
    /// died before its fsync). Under the in-process lock: closing the descriptor must not drop
    /// another thread's record lock.
    public func sync() throws {
        try RecordLock.withProcessLock { try FileSystem.syncFile(self.path) }
    }

    /// Up to `count` stored bytes at `offset` (fewer at the end of the file), read under the
    /// in-process lock for the same reason as `sync()`.
    public func read(count: Int, at offset: Int) throws -> [UInt8] {
        try RecordLock.withProcessLock {
            let file = try File.open(self.path, .readOnly)
            defer { file.closeQuietly() }
            return try file.read(count: count, at: offset)
        }
    }

    // MARK: Keyed entries

    /// The header line our keyed entries carry right after their `From ` line:
    /// `X-PostOffice-Key: <key> <entry length, 12 digits>`.
    public static let keyHeader: [UInt8] = Array("X-PostOffice-Key: ".utf8)
    /// The digits of the length field.
    public static let lengthDigits = 12

    /// What a scan for keyed entries found.
    public struct KeyedEntries: Sendable {
        /// Key → offset of the entry's `From ` line, for complete entries.
        public var offsets: [String: Int] = [:]
        /// Whether a torn last entry was cut off.
        public var truncatedTornEntry = false
    }

    /// Finds the complete keyed entries (see `MboxEntryWriter`), and cuts off a torn one.
    ///
    /// An entry counts when its `From ` line is directly followed by a key line, and its length
    /// ends exactly on an empty line followed by the next `From ` line or the end of the file.
    /// Body text cannot fake this: mboxrd quotes every body line matching `>*From `.
    ///
    /// The repair rule: the last keyed entry, when it runs past the end of the file (a crash
    /// during its append) and no other `From ` line follows its start, is truncated away so it
    /// is written again whole. When another program (an MDA, the system's mail delivery)
    /// appended mail after it, the torn entry is left as it is: junk in the file is better than
    /// cutting someone else's message. One pass over the file, in bounded memory, under the
    /// locks.
    public func keyedEntries() throws -> KeyedEntries {
        var result = KeyedEntries()
        guard try FileSystem.status(self.path) != nil else { return result }
        try RecordLock.withExclusiveLock(opening: self.path) { file in
            let size = try file.seekToEnd()
            struct Candidate {
                var key: String
                var offset: Int
                var length: Int
                /// Another `From ` line starts after this entry's start.
                var followed: Bool
            }
            var candidates: [Candidate] = []
            var reader = MboxReader(file: file, contentLimit: Self.keyHeader.count + 64 + 1 + Self.lengthDigits + 1)
            while let entry = try reader.next() {
                if !candidates.isEmpty {
                    candidates[candidates.count - 1].followed = true
                }
                guard let (key, length) = Self.parseKeyLine(entry.content) else { continue }
                candidates.append(
                    Candidate(key: key, offset: entry.separatorOffset, length: length, followed: entry.hasInnerFromLine)
                )
            }
            for (position, candidate) in candidates.enumerated() {
                let end = candidate.offset + candidate.length
                if try Self.isComplete(file, end: end, size: size) {
                    result.offsets[candidate.key] = candidate.offset
                } else if position == candidates.count - 1, end > size, !candidate.followed {
                    try file.truncate(to: candidate.offset)
                    try file.sync()
                    result.truncatedTornEntry = true
                }
            }
        }
        return result
    }

    /// `X-PostOffice-Key: <key> <12 digits>` at the start of `content`.
    static func parseKeyLine(_ content: [UInt8]) -> (String, Int)? {
        guard content.starts(with: Self.keyHeader) else { return nil }
        let rest = content[Self.keyHeader.count...]
        guard let newline = rest.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let line = rest[..<newline]
        guard let space = line.firstIndex(of: UInt8(ascii: " ")), space > line.startIndex,
            line.endIndex - space - 1 == Self.lengthDigits,
            let length = MaildirFilename.decimal(line[(space + 1)...]), length > 0
        else { return nil }
        return (String(decoding: line[..<space], as: UTF8.self), length)
    }

    private static func isComplete(_ file: File, end: Int, size: Int) throws(FileIOError) -> Bool {
        guard end >= 2, end <= size else { return false }
        guard try file.read(count: 2, at: end - 2) == [0x0A, 0x0A] else { return false }
        if end == size {
            return true
        }
        return try file.read(count: 5, at: end) == Mbox.fromPrefix
    }
}

/// One keyed mbox entry, spooled to a file next to the mbox and then appended whole.
///
/// The entry is
///
///     From <sender> <asctime>
///     X-PostOffice-Key: <key> <entry length, 12 digits>
///     <raw lines: trace header>
///     <message, LF line ends, mboxrd-quoted>
///     <empty line>
///
/// The message is spooled first (bounded memory), its length written into the key line and the
/// spool fsynced; `commit()` then appends it under the mbox's locks and removes the spool. If a
/// run dies after the append but before it recorded the message, `MboxFile.keyedEntries()`
/// finds the entry by its key.
public final class MboxEntryWriter {
    public let mbox: MboxFile
    public let key: String
    private let spool: MessageFileWriter
    private let lengthOffset: Int

    /// Starts an entry. `key` is printable ASCII without spaces (at most 64 octets); `spool` is
    /// the spool file's path (a fixed name per key makes a rerun overwrite a crashed run's
    /// leftover).
    public init(mbox: MboxFile, key: String, spool: FilePath, sender: String, date: Int64) throws {
        precondition(
            (1...64).contains(key.utf8.count) && key.utf8.allSatisfy { (0x21...0x7E).contains($0) },
            "not an mbox entry key"
        )
        try FileSystem.createDirectories(mbox.directory)
        self.mbox = mbox
        self.key = key
        self.spool = try MessageFileWriter(path: spool, quoteFromLines: true)
        let fromLine = Array(Mbox.fromLine(sender: sender, date: date).utf8) + [0x0A]
        self.lengthOffset = fromLine.count + MboxFile.keyHeader.count + key.utf8.count + 1
        try self.spool.writeRaw(fromLine)
        try self.spool.writeRaw(MboxFile.keyHeader + Array(key.utf8) + [UInt8(ascii: " ")])
        try self.spool.writeRaw(repeatElement(UInt8(ascii: "0"), count: MboxFile.lengthDigits))
        try self.spool.writeRaw([0x0A])
    }

    /// Writes bytes verbatim (a trace header; before the message).
    public func writeRaw(_ bytes: some Sequence<UInt8>) throws {
        try self.spool.writeRaw(bytes)
    }

    /// Writes message bytes (CRLF line ends become LF; `>*From ` lines are quoted).
    public func write(_ chunk: ByteBuffer) throws {
        try self.spool.writeMessage(chunk)
    }

    /// Ends the entry with its empty line, writes its length into the key line and fsyncs the
    /// spool.
    public func finish() throws {
        let endsWithNewline = try self.spool.finishMessage()
        try self.spool.writeRaw(endsWithNewline ? [0x0A] : [0x0A, 0x0A])
        try self.spool.sync()
        let digits = Array(String(self.spool.size).utf8)
        let padded = Array(repeating: UInt8(ascii: "0"), count: max(0, MboxFile.lengthDigits - digits.count)) + digits
        try self.spool.overwrite(padded, at: self.lengthOffset)
        try self.spool.sync()
        try self.spool.close()
    }

    /// Appends the finished entry to the mbox and removes the spool. Returns the offset of its
    /// `From ` line.
    public func commit() throws -> Int {
        defer { self.spool.remove() }
        return try self.mbox.append(contentsOf: self.spool.path)
    }

    /// Abandons the entry: removes the spool.
    public func discard() {
        self.spool.remove()
    }
}
