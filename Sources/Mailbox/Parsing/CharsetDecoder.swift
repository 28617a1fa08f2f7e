#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns bytes in a MIME charset (RFC 2045 §5.1, RFC 2046 §4.1.2) into a `String`.
///
/// UTF-8, US-ASCII, ISO-8859-1 and Windows-1252 are decoded here; every other label goes
/// through the C library's `iconv`. Invalid sequences become U+FFFD; a label nobody knows
/// decodes as ISO-8859-1, so no byte is ever lost or fatal.
public enum CharsetDecoder {
    /// Decodes `bytes` labelled `charset` (case-insensitive, quotes and spaces tolerated).
    /// A missing label means US-ASCII (RFC 2045 §5.2), read leniently: valid UTF-8 stays
    /// UTF-8 (RFC 6532), anything else is read as Windows-1252.
    public static func decode(_ bytes: some Collection<UInt8>, charset: String?) -> String {
        switch canonicalLabel(charset) {
        case .utf8:
            return String(decoding: bytes, as: UTF8.self)
        case .lenientASCII:
            return decodeUnlabelled(bytes)
        case .windows1252:
            return decodeWindows1252(bytes)
        case .latin1:
            return decodeLatin1(bytes)
        case .iconv(let name):
            if let text = decodeWithIconv(Array(bytes), from: name) { return text }
            return decodeLatin1(bytes)
        }
    }

    /// Bytes without a trustworthy label, e.g. raw 8-bit header text: UTF-8 when valid,
    /// Windows-1252 otherwise.
    public static func decodeUnlabelled(_ bytes: some Collection<UInt8>) -> String {
        if bytes.isASCII { return String(decoding: bytes, as: UTF8.self) }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return decodeWindows1252(bytes)
    }

    enum Label: Equatable {
        case utf8
        case lenientASCII
        case windows1252
        case latin1
        case iconv(String)
    }

    static func canonicalLabel(_ raw: String?) -> Label {
        guard let raw else { return .lenientASCII }
        var label = raw.lowercased().filter { !$0.isWhitespace && $0 != "\"" && $0 != "'" }
        // RFC 2231 §5: a language may follow the charset in an encoded word.
        if let star = label.firstIndex(of: "*") { label = String(label[..<star]) }
        switch label {
        case "", "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us", "default", "unknown", "x-unknown",
            "unknown-8bit", "x-user-defined":
            return .lenientASCII
        case "utf-8", "utf8", "unicode-1-1-utf-8", "x-utf-8", "utf-8-bom":
            return .utf8
        // WHATWG Encoding: ISO-8859-1 labels mean Windows-1252 in practice.
        case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1", "cp819", "ibm819",
            "windows-1252", "cp1252", "x-cp1252", "iso_8859-1:1987":
            return .windows1252
        case "ks_c_5601-1987", "ks_c_5601", "ksc5601", "euc-kr", "x-windows-949", "windows-949":
            return .iconv("CP949")
        case "gb2312", "gbk", "x-gbk", "cp936", "chinese", "csgb2312", "gb_2312-80", "euc-cn":
            return .iconv("GB18030")
        case "x-sjis", "sjis", "shift-jis", "ms_kanji", "csshiftjis", "windows-31j":
            return .iconv("CP932")
        case "x-mac-roman", "macintosh", "mac":
            return .iconv("MACINTOSH")
        default:
            // Labels reach iconv only in a safe alphabet, so they cannot smuggle "//" options.
            let allowed = label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }
            guard allowed, label.count <= 40 else { return .latin1 }
            return .iconv(label.uppercased())
        }
    }

    static func decodeLatin1(_ bytes: some Collection<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.reserveCapacity(bytes.count)
        for byte in bytes { scalars.append(Unicode.Scalar(byte)) }
        return String(scalars)
    }

    /// Windows-1252's 0x80–0x9F row; 0 marks the five unassigned positions (kept as C1).
    private static let windows1252High: [UInt32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E,
        0x0178,
    ]

    static func decodeWindows1252(_ bytes: some Collection<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.reserveCapacity(bytes.count)
        for byte in bytes {
            if byte >= 0x80, byte <= 0x9F, let scalar = Unicode.Scalar(windows1252High[Int(byte - 0x80)]),
                scalar.value != 0
            {
                scalars.append(scalar)
            } else {
                scalars.append(Unicode.Scalar(byte))
            }
        }
        return String(scalars)
    }

    /// Converts with iconv to UTF-8; invalid input becomes U+FFFD. Nil when iconv does not
    /// know the charset.
    static func decodeWithIconv(_ input: [UInt8], from charset: String) -> String? {
        let descriptor = iconv_open("UTF-8", charset)
        guard let descriptor, descriptor != iconv_t(bitPattern: -1) else { return nil }
        defer { iconv_close(descriptor) }
        if input.isEmpty { return "" }

        var output: [UInt8] = []
        output.reserveCapacity(input.count * 2 + 16)
        var chunk = [UInt8](repeating: 0, count: max(256, input.count * 4))
        var inputOffset = 0
        // Each round converts, skips one bad byte, or grows nothing: bounded by input size.
        var rounds = 0
        while inputOffset < input.count, rounds <= input.count + 1 {
            rounds += 1
            var result = 0
            var savedErrno: Int32 = 0
            var consumed = 0
            var produced = 0
            input.withUnsafeBufferPointer { inputBuffer in
                chunk.withUnsafeMutableBufferPointer { outputBuffer in
                    var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(
                        mutating: inputBuffer.baseAddress! + inputOffset  // safe: offset < count
                    ).assumingMemoryBound(to: CChar.self)
                    var inLeft = input.count - inputOffset
                    var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outputBuffer.baseAddress!)
                        .assumingMemoryBound(to: CChar.self)  // safe: chunk is never empty
                    var outLeft = outputBuffer.count
                    let before = inLeft
                    result = iconv(descriptor, &inPointer, &inLeft, &outPointer, &outLeft)
                    savedErrno = errno
                    consumed = before - inLeft
                    produced = outputBuffer.count - outLeft
                }
            }
            output.append(contentsOf: chunk[0..<produced])
            inputOffset += consumed
            if result == -1 {
                switch savedErrno {
                case E2BIG:
                    continue
                default:
                    // EILSEQ or EINVAL: mark the bad byte and resynchronise after it.
                    output.append(contentsOf: [0xEF, 0xBF, 0xBD])
                    inputOffset += 1
                    _ = iconv(descriptor, nil, nil, nil, nil)
                }
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
