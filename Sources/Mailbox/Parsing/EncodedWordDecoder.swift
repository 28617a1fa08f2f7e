/// Decodes RFC 2047 encoded words (`=?charset?B|Q?text?=`) in header text.
///
/// - RFC 2047 §4.1 / §4.2: B is base64, Q is quoted-printable with `_` for space.
/// - RFC 2047 §6.2: whitespace between two adjacent encoded words is dropped.
/// - RFC 2231 §5: a `*language` suffix on the charset is ignored.
///
/// Leniencies, because real mail needs them: encoded words glued to text are decoded, adjacent
/// words in one charset are joined as bytes before decoding (so a character split across two
/// words survives), and raw 8-bit text is read as UTF-8 or else Windows-1252.
public enum EncodedWordDecoder {
    /// Longest encoded-text accepted. RFC 2047 §2 caps a whole word at 75 characters; real
    /// mailers exceed it, so this is generous, and it bounds the work per `=?`.
    static let maximumEncodedTextLength = 2048

    /// Decodes a header value (already unfolded).
    public static func decode(_ raw: some Collection<UInt8>) -> String {
        let bytes = ArraySlice(raw)
        guard bytes.contains(Byte.equals) || !bytes.isASCII else {
            return String(decoding: bytes, as: UTF8.self)
        }
        var decoder = Run(bytes: bytes)
        return decoder.run()
    }

    private struct Run {
        let bytes: ArraySlice<UInt8>
        let rawIsUTF8: Bool
        var output = ""
        var pendingWhitespace: ArraySlice<UInt8> = []
        var pendingBytes: [UInt8] = []
        var pendingCharset: String?
        var lastWasEncoded = false
        // Cached forward positions keep the scan linear however many `=?` fail to parse.
        var nextTerminator = -1
        var nextWhitespace = -1

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            self.rawIsUTF8 = String(validating: bytes, as: UTF8.self) != nil
        }

        mutating func run() -> String {
            var index = bytes.startIndex
            let end = bytes.endIndex
            while index < end {
                let byte = bytes[index]
                if byte == Byte.equals, index + 1 < end, bytes[index + 1] == Byte.question,
                    let word = encodedWord(at: index)
                {
                    if !lastWasEncoded { flushWhitespace() }
                    pendingWhitespace = []
                    if pendingCharset != word.charset { flushEncoded() }
                    pendingCharset = word.charset
                    pendingBytes.append(contentsOf: word.decoded)
                    lastWasEncoded = true
                    index = word.end
                    continue
                }
                if byte.isWhitespace {
                    var cursor = index
                    while cursor < end, bytes[cursor].isWhitespace { cursor += 1 }
                    flushWhitespace()
                    pendingWhitespace = bytes[index..<cursor]
                    index = cursor
                    continue
                }
                // Plain text up to the next whitespace or possible encoded word.
                var cursor = index + 1
                while cursor < end, !bytes[cursor].isWhitespace,
                    !(bytes[cursor] == Byte.equals && cursor + 1 < end && bytes[cursor + 1] == Byte.question)
                {
                    cursor += 1
                }
                flushEncoded()
                flushWhitespace()
                appendRaw(bytes[index..<cursor])
                lastWasEncoded = false
                index = cursor
            }
            flushEncoded()
            flushWhitespace()
            return output
        }

        mutating func flushEncoded() {
            guard let charset = pendingCharset else { return }
            output += CharsetDecoder.decode(pendingBytes, charset: charset)
            pendingBytes.removeAll(keepingCapacity: true)
            pendingCharset = nil
        }

        mutating func flushWhitespace() {
            guard !pendingWhitespace.isEmpty else { return }
            flushEncoded()
            // Folding whitespace (CR, LF) reads as one space.
            for byte in pendingWhitespace where byte == Byte.space || byte == Byte.tab {
                output.unicodeScalars.append(Unicode.Scalar(byte))
            }
            pendingWhitespace = []
        }

        mutating func appendRaw(_ slice: ArraySlice<UInt8>) {
            if rawIsUTF8 {
                output += String(decoding: slice, as: UTF8.self)
            } else {
                output += CharsetDecoder.decodeWindows1252(slice)
            }
        }

        /// Parses `=?charset?encoding?text?=` at `start`.
        mutating func encodedWord(at start: Int) -> (charset: String, decoded: [UInt8], end: Int)? {
            let end = bytes.endIndex
            var cursor = start + 2
            let charsetStart = cursor
            while cursor < end, cursor - charsetStart <= 64, bytes[cursor] != Byte.question {
                if bytes[cursor].isWhitespace || bytes[cursor] == Byte.equals { return nil }
                cursor += 1
            }
            guard cursor < end, bytes[cursor] == Byte.question, cursor > charsetStart else { return nil }
            let charset = Bytes.lowercaseASCII(bytes[charsetStart..<cursor])
            guard cursor + 2 < end, bytes[cursor + 2] == Byte.question else { return nil }
            let encoding = bytes[cursor + 1].asciiLowercased
            guard encoding == UInt8(ascii: "b") || encoding == UInt8(ascii: "q") else { return nil }
            let textStart = cursor + 3
            if nextTerminator < textStart { nextTerminator = find(terminator: textStart) }
            if nextWhitespace < textStart { nextWhitespace = findWhitespace(from: textStart) }
            let textEnd = nextTerminator
            guard textEnd < end, textEnd <= nextWhitespace, textEnd - textStart <= maximumEncodedTextLength else {
                return nil
            }
            let text = bytes[textStart..<textEnd]
            let decoded =
                encoding == UInt8(ascii: "b")
                ? TransferEncoding.decodeBase64(text)
                : decodeQ(text)
            return (charset, decoded, textEnd + 2)
        }

        func find(terminator from: Int) -> Int {
            var cursor = from
            while cursor + 1 < bytes.endIndex {
                if bytes[cursor] == Byte.question, bytes[cursor + 1] == Byte.equals { return cursor }
                cursor += 1
            }
            return bytes.endIndex
        }

        func findWhitespace(from: Int) -> Int {
            var cursor = from
            while cursor < bytes.endIndex, !bytes[cursor].isWhitespace { cursor += 1 }
            return cursor
        }
    }

    /// RFC 2047 §4.2 "Q": `_` is 0x20, `=XX` an octet, anything else itself.
    static func decodeQ(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == Byte.underscore {
                output.append(Byte.space)
            } else if byte == Byte.equals, index + 2 < text.endIndex,
                let high = text[index + 1].hexValue, let low = text[index + 2].hexValue
            {
                output.append(high << 4 | low)
                index += 3
                continue
            } else {
                output.append(byte)
            }
            index += 1
        }
        return output
    }
}
