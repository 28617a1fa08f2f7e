/// One header field (RFC 5322 §2.2), unfolded.
public struct HeaderField: Sendable, Hashable {
    /// The field name as written.
    public var name: String
    /// The field body after unfolding (RFC 5322 §2.2.3), surrounding whitespace removed, bytes
    /// as stored.
    public var rawValue: [UInt8]

    public init(name: String, rawValue: [UInt8]) {
        self.name = name
        self.rawValue = rawValue
    }

    /// The body with RFC 2047 encoded words decoded and 8-bit text read as UTF-8 (RFC 6532)
    /// or else Windows-1252.
    public var value: String { EncodedWordDecoder.decode(rawValue) }
}

/// The header section of a message or MIME part.
public struct MessageHeader: Sendable, Hashable {
    public var fields: [HeaderField]

    public init(fields: [HeaderField] = []) {
        self.fields = fields
    }

    /// The first field with this name (case-insensitive).
    public func first(_ name: String) -> HeaderField? {
        fields.first { $0.name.caseInsensitiveEquals(name) }
    }

    /// Every field with this name (case-insensitive), in order.
    public func all(_ name: String) -> [HeaderField] {
        fields.filter { $0.name.caseInsensitiveEquals(name) }
    }

    /// The decoded value of the first field with this name.
    public subscript(_ name: String) -> String? { first(name)?.value }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        let lhs = utf8
        let rhs = other.utf8
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).allSatisfy { $0.asciiLowercased == $1.asciiLowercased }
    }
}

/// Splits a header section from its body (RFC 5322 §2.1) leniently.
enum HeaderParser {
    /// Limits that keep hostile input cheap.
    static let maximumFieldCount = 2000
    static let maximumFieldLength = 256 * 1024

    struct Result {
        var header: MessageHeader
        var bodyStart: Int
        var defects: [String]
    }

    /// Reads header lines from `bytes` (LF or CRLF line ends). A leading mbox `From ` line is
    /// skipped. The header ends at the first empty line; a line that is neither a field nor a
    /// continuation also ends it (and starts the body), as most readers do.
    static func parse(_ bytes: ArraySlice<UInt8>) -> Result {
        var fields: [HeaderField] = []
        var defects: [String] = []
        var index = bytes.startIndex
        let end = bytes.endIndex
        if Bytes.hasPrefix(bytes, at: index, caseInsensitive: Array("from ".utf8)), bytes[index] == UInt8(ascii: "F") {
            index = min(end, Bytes.lineFeed(in: bytes, from: index) + 1)
        }
        var bodyStart = end
        var currentName: String?
        var currentValue: [UInt8] = []

        func finishField() {
            guard let name = currentName else { return }
            if fields.count < maximumFieldCount {
                fields.append(HeaderField(name: name, rawValue: Array(Bytes.trimmed(currentValue[...]))))
            } else if defects.count < 50 {
                defects.append("too many header fields")
            }
            currentName = nil
            currentValue.removeAll(keepingCapacity: true)
        }

        while index < end {
            let lineFeed = Bytes.lineFeed(in: bytes, from: index)
            var contentEnd = lineFeed
            if contentEnd > index, bytes[contentEnd - 1] == Byte.cr { contentEnd -= 1 }
            let next = min(end, lineFeed + 1)
            if contentEnd == index {
                bodyStart = next
                finishField()
                return Result(header: MessageHeader(fields: fields), bodyStart: bodyStart, defects: defects)
            }
            if bytes[index].isWSP {
                if currentName != nil {
                    if currentValue.count < maximumFieldLength {
                        currentValue.append(contentsOf: bytes[index..<min(contentEnd, index + maximumFieldLength)])
                    }
                } else {
                    defects.append("continuation line without a field")
                }
                index = next
                continue
            }
            guard let colon = fieldNameEnd(bytes, from: index, to: contentEnd) else {
                defects.append("header line without a colon; body starts there")
                finishField()
                return Result(header: MessageHeader(fields: fields), bodyStart: index, defects: defects)
            }
            finishField()
            var nameEnd = colon
            while nameEnd > index, bytes[nameEnd - 1].isWSP { nameEnd -= 1 }  // RFC 5322 §4.5 obs-optional
            currentName = String(decoding: bytes[index..<nameEnd], as: UTF8.self)
            currentValue.append(contentsOf: bytes[(colon + 1)..<min(contentEnd, colon + 1 + maximumFieldLength)])
            index = next
        }
        finishField()
        if !fields.isEmpty { defects.append("no empty line after the header") }
        return Result(header: MessageHeader(fields: fields), bodyStart: end, defects: defects)
    }

    /// The colon ending a field name: printable US-ASCII except colon (RFC 5322 §3.6.8),
    /// optionally followed by whitespace before the colon.
    private static func fieldNameEnd(_ bytes: ArraySlice<UInt8>, from start: Int, to end: Int) -> Int? {
        var cursor = start
        while cursor < end {
            let byte = bytes[cursor]
            if byte == Byte.colon { return cursor > start ? cursor : nil }
            if byte.isWSP {
                var after = cursor
                while after < end, bytes[after].isWSP { after += 1 }
                return after < end && bytes[after] == Byte.colon && cursor > start ? after : nil
            }
            if byte < 0x21 || byte > 0x7E { return nil }
            cursor += 1
        }
        return nil
    }
}
