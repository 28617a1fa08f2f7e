/// A structured MIME header value: a token (`text/plain`, `attachment`) and its parameters,
/// as in `Content-Type` (RFC 2045 §5.1) and `Content-Disposition` (RFC 2183).
public struct MIMEHeaderValue: Sendable, Hashable {
    /// The leading token, lowercased (`multipart/mixed`, `attachment`).
    public var value: String
    /// Parameters by lowercased name, values decoded: RFC 2231 continuations and charsets
    /// joined and converted, RFC 2047 words in plain values decoded (common, though RFC 2047
    /// §5 forbids it).
    public var parameters: [String: String]

    public init(value: String, parameters: [String: String] = [:]) {
        self.value = value
        self.parameters = parameters
    }

    /// Parses a raw (unfolded) header value.
    public static func parse(_ raw: some Collection<UInt8>) -> MIMEHeaderValue {
        var scanner = ParameterScanner(bytes: ArraySlice(raw))
        let value = scanner.leadingValue()
        var plain: [String: [UInt8]] = [:]
        var sections: [String: [Int: (bytes: [UInt8], extended: Bool)]] = [:]
        var count = 0
        while let (name, rawValue) = scanner.nextParameter(), count < 256 {
            count += 1
            // RFC 2231 §3, §4: name*N (continuation), name* (charset'lang'%XX), name*N*.
            var base = name
            var extended = false
            if base.hasSuffix("*") {
                // Quoting an extended value is wrong (RFC 2231 §4) but common; decode it anyway.
                extended = true
                base.removeLast()
            }
            if let star = base.lastIndex(of: "*"), let number = Int(base[base.index(after: star)...]), number >= 0,
                number < 1000
            {
                let stem = String(base[..<star])
                if sections[stem, default: [:]][number] == nil {
                    sections[stem, default: [:]][number] = (rawValue, extended)
                }
            } else if extended {
                sections[base, default: [:]][0] = (rawValue, true)
            } else if plain[base] == nil {
                plain[base] = rawValue
            }
        }
        var parameters: [String: String] = [:]
        for (name, bytes) in plain {
            parameters[name] = EncodedWordDecoder.decode(bytes)
        }
        for (name, parts) in sections {
            if let joined = joinSections(parts) { parameters[name] = joined }
        }
        return MIMEHeaderValue(value: value, parameters: parameters)
    }

    /// RFC 2231 §3–4: sections are joined in order from 0 until the first gap; the charset
    /// and language prefix come from section 0 when it is extended; `%XX` is decoded in
    /// extended sections only.
    private static func joinSections(_ parts: [Int: (bytes: [UInt8], extended: Bool)]) -> String? {
        guard parts[0] != nil else { return nil }
        var charset: String?
        var joined: [UInt8] = []
        var number = 0
        while let part = parts[number] {
            var bytes = part.bytes[...]
            if number == 0, part.extended {
                let pieces = bytes.split(separator: Byte.apostrophe, maxSplits: 2, omittingEmptySubsequences: false)
                if pieces.count == 3 {
                    charset = pieces[0].isEmpty ? nil : Bytes.lowercaseASCII(pieces[0])
                    bytes = pieces[2]
                }
            }
            joined.append(contentsOf: part.extended ? percentDecode(bytes) : Array(bytes))
            number += 1
        }
        if charset == nil, joined.contains(Byte.equals) { return EncodedWordDecoder.decode(joined) }
        return CharsetDecoder.decode(joined, charset: charset)
    }

    static func percentDecode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == Byte.percent, index + 2 < bytes.endIndex,
                let high = bytes[index + 1].hexValue, let low = bytes[index + 2].hexValue
            {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return output
    }
}

/// Tokenises `value; name=value; name="quoted"` with RFC 5322 comments, leniently: an
/// unquoted value runs to the next `;`, a missing closing quote runs to the end.
private struct ParameterScanner {
    let bytes: ArraySlice<UInt8>
    var index: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    mutating func skipWhitespaceAndComments() {
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte.isWhitespace {
                index += 1
            } else if byte == Byte.openParen {
                skipComment()
            } else {
                return
            }
        }
    }

    /// RFC 5322 §3.2.2 comments nest and may contain quoted pairs.
    mutating func skipComment() {
        var depth = 0
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            switch byte {
            case Byte.backslash: index += 1
            case Byte.openParen: depth += 1
            case Byte.closeParen:
                depth -= 1
                if depth == 0 { return }
            default: break
            }
        }
        index = min(index, bytes.endIndex)
    }

    mutating func leadingValue() -> String {
        skipWhitespaceAndComments()
        var value: [UInt8] = []
        while index < bytes.endIndex, bytes[index] != Byte.semicolon {
            let byte = bytes[index]
            if byte == Byte.openParen {
                skipComment()
                continue
            }
            if !byte.isWhitespace && byte != Byte.quote { value.append(byte) }
            index += 1
        }
        return Bytes.lowercaseASCII(value)
    }

    /// The next `name=value`, or nil at the end. Junk between parameters is skipped.
    mutating func nextParameter() -> (String, [UInt8])? {
        while index < bytes.endIndex {
            if bytes[index] == Byte.semicolon {
                index += 1
                continue
            }
            skipWhitespaceAndComments()
            guard index < bytes.endIndex else { return nil }
            let nameStart = index
            while index < bytes.endIndex, bytes[index] != Byte.equals, bytes[index] != Byte.semicolon,
                !bytes[index].isWhitespace
            {
                index += 1
            }
            let name = Bytes.lowercaseASCII(bytes[nameStart..<index])
            skipWhitespaceAndComments()
            guard index < bytes.endIndex, bytes[index] == Byte.equals, !name.isEmpty else {
                // Not a parameter: skip to the next separator.
                while index < bytes.endIndex, bytes[index] != Byte.semicolon { index += 1 }
                continue
            }
            index += 1
            skipWhitespaceAndComments()
            if index < bytes.endIndex, bytes[index] == Byte.quote {
                return (name, quotedString())
            }
            let valueStart = index
            while index < bytes.endIndex, bytes[index] != Byte.semicolon { index += 1 }
            return (name, Array(Bytes.trimmed(bytes[valueStart..<index])))
        }
        return nil
    }

    /// RFC 5322 §3.2.4 quoted-string, the opening quote at `index`.
    mutating func quotedString() -> [UInt8] {
        index += 1
        var value: [UInt8] = []
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            if byte == Byte.quote { return value }
            if byte == Byte.backslash, index < bytes.endIndex {
                value.append(bytes[index])
                index += 1
                continue
            }
            if byte == Byte.cr || byte == Byte.lf { continue }
            value.append(byte)
        }
        return value
    }
}
