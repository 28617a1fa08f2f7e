// Small byte-level helpers shared by the parsers. Everything here is total: no input traps.

enum Byte {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let percent: UInt8 = 0x25
    static let apostrophe: UInt8 = 0x27
    static let openParen: UInt8 = 0x28
    static let closeParen: UInt8 = 0x29
    static let asterisk: UInt8 = 0x2A
    static let comma: UInt8 = 0x2C
    static let hyphen: UInt8 = 0x2D
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let lessThan: UInt8 = 0x3C
    static let equals: UInt8 = 0x3D
    static let greaterThan: UInt8 = 0x3E
    static let question: UInt8 = 0x3F
    static let backslash: UInt8 = 0x5C
    static let underscore: UInt8 = 0x5F
}

extension UInt8 {
    /// RFC 5322 §2.2.2 WSP: space or horizontal tab.
    var isWSP: Bool { self == Byte.space || self == Byte.tab }
    var isWhitespace: Bool { self == Byte.space || self == Byte.tab || self == Byte.cr || self == Byte.lf }
    var asciiLowercased: UInt8 { (self >= 0x41 && self <= 0x5A) ? self | 0x20 : self }
    /// The value of an ASCII hexadecimal digit, either case.
    var hexValue: UInt8? {
        switch self {
        case 0x30...0x39: return self - 0x30
        case 0x41...0x46: return self - 0x41 + 10
        case 0x61...0x66: return self - 0x61 + 10
        default: return nil
        }
    }
}

extension Collection<UInt8> {
    /// True when every byte is 7-bit.
    var isASCII: Bool { allSatisfy { $0 < 0x80 } }
}

enum Bytes {
    /// Strips leading and trailing whitespace (SP, HTAB, CR, LF).
    static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lower = bytes.startIndex
        var upper = bytes.endIndex
        while lower < upper, bytes[lower].isWhitespace { lower += 1 }
        while upper > lower, bytes[upper - 1].isWhitespace { upper -= 1 }
        return bytes[lower..<upper]
    }

    /// ASCII case-insensitive prefix test.
    static func hasPrefix(_ bytes: ArraySlice<UInt8>, at index: Int, caseInsensitive prefix: [UInt8]) -> Bool {
        guard index >= bytes.startIndex, bytes.endIndex - index >= prefix.count else { return false }
        for offset in 0..<prefix.count where bytes[index + offset].asciiLowercased != prefix[offset] {
            return false
        }
        return true
    }

    /// The index of the next LF at or after `index`, or `bytes.endIndex`.
    static func lineFeed(in bytes: ArraySlice<UInt8>, from index: Int) -> Int {
        var cursor = index
        while cursor < bytes.endIndex, bytes[cursor] != Byte.lf { cursor += 1 }
        return cursor
    }

    /// A lowercase ASCII string from bytes, non-ASCII bytes dropped.
    static func lowercaseASCII(_ bytes: some Sequence<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes where byte < 0x80 { scalars.append(Unicode.Scalar(byte.asciiLowercased)) }
        return String(scalars)
    }

    /// Lowercase hexadecimal rendering.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
