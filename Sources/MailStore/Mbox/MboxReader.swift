// Reading an mbox file entry by entry in bounded memory: the one mbox splitter, for the offline
// mailbox's index and for recognising entries fetch appended earlier.

public import FileIO

/// Splits an mbox into entries.
///
/// A `From ` line at the start of the file or after an empty line starts an entry; the empty
/// line before the next `From ` line belongs to the separator, not to the entry. The last entry
/// keeps its final line end but not a trailing empty line. Bytes before the first `From ` line
/// belong to no entry. Memory is bounded by the read chunk plus `contentLimit`: a line is never
/// held whole unless its bytes are kept as content.
public struct MboxReader {
    /// One message in an mbox.
    public struct Entry: Sendable {
        /// Where its `From ` line starts.
        public var separatorOffset: Int
        /// The `From ` line without its line end (at most `MboxReader.separatorLimit` octets).
        public var separator: [UInt8]
        /// Where the stored message starts (after the `From ` line).
        public var offset: Int
        /// Octets stored, quoting included, the separating empty line excluded.
        public var length: Int
        /// The first `contentLimit` octets of the stored message (still quoted).
        public var content: [UInt8]
        /// Whether a line inside the entry starts with `From ` without being a separator: in
        /// mboxrd every such body line is quoted, so this is another program's entry written
        /// without the empty line before it (or a writer that does not quote).
        public var hasInnerFromLine: Bool
    }

    /// The longest separator line kept.
    public static let separatorLimit = 4096
    /// The read size.
    static let chunkSize = 256 * 1024

    private enum Source {
        case file(File)
        case bytes([UInt8])
    }

    private let source: Source
    private let contentLimit: Int
    private var chunk: [UInt8] = []
    /// File offset of `chunk[0]`.
    private var chunkOffset = 0
    /// Next unread index in `chunk`.
    private var cursor = 0
    private var atEnd = false

    private var current: Entry?
    /// The length of the entry's last line if it was empty (1 or 2), else 0.
    private var blankLineLength = 0
    private var previousLineBlank = true
    /// Whether the entry's last line is a lone LF (the trailing empty line of the last entry).
    private var lastLineIsBareLF = false

    /// Reads the file from its start (with `pread`: the descriptor's position is not used).
    ///
    /// - Parameter contentLimit: how many stored octets of each entry to keep in `content`.
    public init(file: File, contentLimit: Int = .max) {
        self.source = .file(file)
        self.contentLimit = contentLimit
    }

    /// Splits `bytes` as if they were an mbox file.
    public init(bytes: [UInt8], contentLimit: Int = .max) {
        self.source = .bytes(bytes)
        self.contentLimit = contentLimit
    }

    /// Every entry of `bytes`, content included.
    public static func entries(of bytes: [UInt8]) -> [Entry] {
        var reader = MboxReader(bytes: bytes)
        var entries: [Entry] = []
        while let entry = try? reader.next() {
            entries.append(entry)
        }
        return entries
    }

    /// The next entry, or `nil` after the last.
    public mutating func next() throws(FileIOError) -> Entry? {
        while let line = try self.nextLine(keeping: max(Self.separatorLimit, self.contentRoom)) {
            if self.previousLineBlank, Mbox.isFromLine(line.bytes) {
                let finished = self.current.map { self.finish($0, at: line.offset, droppingBlankLine: true) }
                var separator = line.bytes.prefix(line.length)
                while let last = separator.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
                    separator.removeLast()
                }
                self.current = Entry(
                    separatorOffset: line.offset,
                    separator: Array(separator.prefix(Self.separatorLimit)),
                    offset: line.offset + line.length,
                    length: 0,
                    content: [],
                    hasInnerFromLine: false
                )
                self.previousLineBlank = false
                self.blankLineLength = 0
                self.lastLineIsBareLF = false
                if let finished {
                    return finished
                }
                continue
            }
            let contentLength = line.length - (line.endsWithLF ? 1 : 0)
            let blank = contentLength == 0 || (contentLength == 1 && line.bytes.first == UInt8(ascii: "\r"))
            self.previousLineBlank = blank
            guard var entry = self.current else { continue }
            if Mbox.isFromLine(line.bytes) {
                entry.hasInnerFromLine = true
            }
            let room = self.contentLimit - entry.content.count
            if room > 0 {
                entry.content.append(contentsOf: line.bytes.prefix(room))
            }
            self.blankLineLength = blank ? line.length : 0
            self.lastLineIsBareLF = line.length == 1 && line.endsWithLF
            self.current = entry
        }
        guard let last = self.current else { return nil }
        self.current = nil
        let end = self.chunkOffset + self.chunk.count
        var entry = self.finish(last, at: end, droppingBlankLine: false)
        // The last entry keeps its final line end but not a trailing empty line (every line
        // before a last one ends in LF, so the entry then ends in two LFs).
        if entry.length >= 2, self.lastLineIsBareLF {
            entry.length -= 1
            entry.content = Array(entry.content.prefix(entry.length))
        }
        return entry
    }

    /// How much of the current line may have to be kept as content.
    private var contentRoom: Int {
        guard let current else { return 0 }
        return max(0, self.contentLimit - current.content.count)
    }

    private func finish(_ entry: Entry, at end: Int, droppingBlankLine: Bool) -> Entry {
        var finished = entry
        var stop = end
        if droppingBlankLine {
            stop -= self.blankLineLength
        }
        finished.length = max(0, stop - entry.offset)
        if finished.content.count > finished.length {
            finished.content.removeSubrange(finished.length...)
        }
        return finished
    }

    // MARK: Lines

    private struct Line {
        var offset: Int
        /// Octets of the line, its LF included.
        var length: Int
        /// Its first octets (at most the number asked for).
        var bytes: [UInt8]
        /// Whether it ends in LF (only the file's last line may not).
        var endsWithLF = false
    }

    private mutating func nextLine(keeping keep: Int) throws(FileIOError) -> Line? {
        guard try self.fill() else { return nil }
        var line = Line(offset: self.chunkOffset + self.cursor, length: 0, bytes: [])
        while true {
            let available = self.chunk.count - self.cursor
            let newline = self.chunk[self.cursor...].firstIndex(of: UInt8(ascii: "\n"))
            let take = newline.map { $0 - self.cursor + 1 } ?? available
            let room = keep - line.bytes.count
            if room > 0 {
                line.bytes.append(contentsOf: self.chunk[self.cursor..<(self.cursor + min(take, room))])
            }
            line.length += take
            self.cursor += take
            if newline != nil {
                line.endsWithLF = true
                return line
            }
            guard try self.fill() else { return line }
        }
    }

    /// Makes sure unread bytes are in `chunk`; `false` at the end of the input.
    private mutating func fill() throws(FileIOError) -> Bool {
        if self.cursor < self.chunk.count {
            return true
        }
        guard !self.atEnd else { return false }
        switch self.source {
        case .bytes(let bytes):
            self.chunk = bytes
            self.chunkOffset = 0
            self.cursor = 0
            self.atEnd = true
        case .file(let file):
            let next = self.chunkOffset + self.chunk.count
            self.chunk = try file.read(count: Self.chunkSize, at: next)
            self.chunkOffset = next
            self.cursor = 0
            if self.chunk.count < Self.chunkSize {
                self.atEnd = true
            }
        }
        return self.cursor < self.chunk.count
    }
}
