// The per-Maildir cache of CRLF sizes for messages whose names carry no `,W=`, so a login
// lists a large maildrop from directory entries and `stat` alone (DESIGN.md, "Performance by
// design"). Dovecot keeps such sizes in its index; we keep a small text file of our own.

import FileIO
import SystemPackage

/// CRLF sizes computed earlier, keyed by base name and checked against size and mtime.
///
/// The file `postoffice-sizes` in the Maildir root holds a header line and one line per
/// message: `<crlf size> <file size> <mtime seconds> <mtime nanoseconds> <base name>`, each line
/// ending in LF. An entry counts only if the file still has that size and mtime (a message is
/// never modified once delivered, but a restored backup or an editing MUA may change it). The
/// file is only a cache: a missing, truncated or garbled file costs a recount, never a wrong size,
/// because a line that is not complete and well formed is ignored. It is replaced atomically
/// (temporary file, rename) by the session holding the maildrop lock.
struct SizeCache: Hashable, Sendable {
    struct Entry: Hashable, Sendable {
        var crlfSize: Int
        var fileSize: Int
        var modification: FileTime
    }

    static let fileName = "postoffice-sizes"
    static let temporaryFileName = "postoffice-sizes.tmp"
    /// Larger files are ignored (about 600,000 entries): a cache is not worth unbounded memory.
    static let maximumFileSize = 64 * 1024 * 1024
    private static let header = Array("postoffice-sizes 2\n".utf8)

    var entries: [ArraySlice<UInt8>: Entry] = [:]

    /// Whether `baseName` can be stored in the line format (no LF, not empty).
    static func canStore(_ baseName: ArraySlice<UInt8>) -> Bool {
        !baseName.isEmpty && !baseName.contains(0x0A)
    }

    /// The cached CRLF size, if the file still has the recorded size and mtime.
    func crlfSize(of baseName: ArraySlice<UInt8>, status: FileStatus) -> Int? {
        guard let entry = self.entries[baseName],
            entry.fileSize == status.size,
            entry.modification == status.modification
        else { return nil }
        return entry.crlfSize
    }

    // MARK: Reading and writing

    init(entries: [ArraySlice<UInt8>: Entry] = [:]) {
        self.entries = entries
    }

    /// Parses the file content; anything malformed is skipped.
    init(parsing bytes: [UInt8]) {
        guard bytes.starts(with: Self.header) else { return }
        var lineStart = Self.header.count
        while let newline = bytes[lineStart...].firstIndex(of: 0x0A) {
            if let (name, entry) = Self.parseLine(bytes[lineStart..<newline]) {
                self.entries[name] = entry
            }
            lineStart = newline + 1
        }
    }

    /// The file content: header, then entries sorted by base name (so equal caches are equal
    /// files).
    func serialized() -> [UInt8] {
        var out = Self.header
        for name in self.entries.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let entry = self.entries[name]!  // safe: iterating its keys
            let numbers = [entry.crlfSize, entry.fileSize, entry.modification.seconds, entry.modification.nanoseconds]
            for number in numbers {
                out.append(contentsOf: String(number).utf8)
                out.append(UInt8(ascii: " "))
            }
            out.append(contentsOf: name)
            out.append(0x0A)
        }
        return out
    }

    /// Loads the cache of `maildir`; a missing, unreadable or oversized file is an empty cache.
    static func load(_ maildir: Maildir) -> SizeCache {
        let path = maildir.root.appending(Self.fileName)
        guard let (bytes, _) = try? FileSystem.readFileIfExists(path, limit: Self.maximumFileSize) else {
            return SizeCache()
        }
        return SizeCache(parsing: bytes)
    }

    /// Writes the cache atomically; failures are ignored (a read-only Maildir still works). The
    /// temporary file has a fixed name: only the session holding the maildrop lock writes. No
    /// fsync: after a crash a lost or garbled cache costs a recount, never a wrong size, and a
    /// login does not wait for the disk.
    func store(_ maildir: Maildir) {
        try? FileSystem.replaceAtomically(
            maildir.root.appending(Self.fileName),
            with: self.serialized(),
            temporary: maildir.root.appending(Self.temporaryFileName),
            durable: false
        )
    }

    private static func parseLine(_ line: ArraySlice<UInt8>) -> (ArraySlice<UInt8>, Entry)? {
        var numbers: [Int] = []
        var rest = line
        while numbers.count < 4 {
            guard let space = rest.firstIndex(of: UInt8(ascii: " ")) else { return nil }
            guard let number = Self.signedDecimal(rest[rest.startIndex..<space]) else { return nil }
            numbers.append(number)
            rest = rest[(space + 1)...]
        }
        guard !rest.isEmpty, numbers[0] >= 0, numbers[1] >= 0 else { return nil }
        let entry = Entry(
            crlfSize: numbers[0],
            fileSize: numbers[1],
            modification: FileTime(seconds: numbers[2], nanoseconds: numbers[3])
        )
        return (rest, entry)
    }

    private static func signedDecimal(_ bytes: ArraySlice<UInt8>) -> Int? {
        var digits = bytes
        var negative = false
        if digits.first == UInt8(ascii: "-") {
            negative = true
            digits = digits.dropFirst()
        }
        guard let value = MaildirFilename.decimal(digits) else { return nil }
        return negative ? -value : value
    }
}
