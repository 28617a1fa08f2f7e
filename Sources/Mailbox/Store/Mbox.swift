/// The mbox format as `mboxrd` writes and reads it (RFC 4155 describes the family): each
/// message starts with a `From ` line; body lines that start with `From ` after any number of
/// `>` get one more `>` on writing and lose one on reading.
public enum Mbox {
    /// One message in an mbox file.
    struct Entry: Sendable {
        /// Where the message (after its `From ` line) starts in the file.
        var offset: Int
        /// Octets stored, quoting included, separator line excluded.
        var length: Int
        /// The `From ` line, without its line end.
        var separator: String
    }

    /// Finds the messages: a `From ` line at the start of the file or after an empty line
    /// starts one. The empty line before the next `From ` line belongs to the separator.
    static func split(_ bytes: [UInt8]) -> [Entry] {
        var entries: [Entry] = []
        var lineStart = 0
        var previousLineEmpty = true
        var current: (offset: Int, separator: String)?
        let prefix = Array("From ".utf8)
        func isFromLine(_ start: Int) -> Bool {
            guard bytes.count - start >= prefix.count else { return false }
            for offset in 0..<prefix.count where bytes[start + offset] != prefix[offset] { return false }
            return true
        }
        func finish(at end: Int) {
            guard let open = current else { return }
            var stop = end
            // Drop the separating empty line.
            if stop > open.offset, bytes[stop - 1] == Byte.lf {
                stop -= 1
                if stop > open.offset, bytes[stop - 1] == Byte.cr { stop -= 1 }
            }
            entries.append(Entry(offset: open.offset, length: max(0, stop - open.offset), separator: open.separator))
        }
        while lineStart < bytes.count {
            let lineFeed = Bytes.lineFeed(in: bytes[...], from: lineStart)
            let next = min(bytes.count, lineFeed + 1)
            if previousLineEmpty, isFromLine(lineStart) {
                finish(at: lineStart)
                var end = lineFeed
                if end > lineStart, bytes[end - 1] == Byte.cr { end -= 1 }
                current = (next, String(decoding: bytes[lineStart..<end], as: UTF8.self))
                previousLineEmpty = false
                lineStart = next
                continue
            }
            let contentLength = lineFeed - lineStart - (lineFeed > lineStart && bytes[lineFeed - 1] == Byte.cr ? 1 : 0)
            previousLineEmpty = contentLength == 0
            lineStart = next
        }
        if let open = current {
            // The last message: keep its final line end, drop a trailing empty separator line.
            var stop = bytes.count
            if stop - open.offset >= 2, bytes[stop - 1] == Byte.lf, bytes[stop - 2] == Byte.lf { stop -= 1 }
            entries.append(Entry(offset: open.offset, length: stop - open.offset, separator: open.separator))
        }
        return entries
    }

    /// mboxrd reading: `>From `, `>>From `, … lose one `>`.
    public static func unquote(_ stored: ArraySlice<UInt8>) -> [UInt8] {
        transformLines(stored) { line in
            var cursor = line.startIndex
            while cursor < line.endIndex, line[cursor] == Byte.greaterThan { cursor += 1 }
            return cursor > line.startIndex && startsWithFrom(line, at: cursor) ? 1 : 0
        } replace: { _ in
            nil
        }
    }

    /// mboxrd writing: `From `, `>From `, `>>From `, … gain one `>`.
    public static func quote(_ message: ArraySlice<UInt8>) -> [UInt8] {
        transformLines(message) { _ in
            0
        } replace: { line in
            var cursor = line.startIndex
            while cursor < line.endIndex, line[cursor] == Byte.greaterThan { cursor += 1 }
            return startsWithFrom(line, at: cursor) ? [Byte.greaterThan] : nil
        }
    }

    private static func startsWithFrom(_ line: ArraySlice<UInt8>, at index: Int) -> Bool {
        let from = Array("From ".utf8)
        guard line.endIndex - index >= from.count else { return false }
        for offset in 0..<from.count where line[index + offset] != from[offset] { return false }
        return true
    }

    /// Copies `bytes` line by line, dropping `drop(line)` leading octets and prefixing
    /// `replace(line)` when given.
    private static func transformLines(
        _ bytes: ArraySlice<UInt8>,
        drop: (ArraySlice<UInt8>) -> Int,
        replace: (ArraySlice<UInt8>) -> [UInt8]?
    ) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 16)
        var lineStart = bytes.startIndex
        while lineStart < bytes.endIndex {
            let lineFeed = Bytes.lineFeed(in: bytes, from: lineStart)
            let next = min(bytes.endIndex, lineFeed + 1)
            let line = bytes[lineStart..<next]
            if let prefix = replace(line) { output.append(contentsOf: prefix) }
            output.append(contentsOf: line.dropFirst(drop(line)))
            lineStart = next
        }
        return output
    }
}
