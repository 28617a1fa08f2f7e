// The attribute syntax of SCRAM messages (RFC 5802 §7) and GS2 saslnames (RFC 5801 §4).

/// One `k=value` attribute of a SCRAM message.
struct SCRAMAttribute: Hashable, Sendable {
    var key: UInt8
    var value: ArraySlice<UInt8>
}

enum SCRAMSyntax {
    static let comma = UInt8(ascii: ",")
    static let equals = UInt8(ascii: "=")

    /// Splits `a=..,b=..` into attributes; nil unless every part is `ALPHA "=" value`.
    static func attributes(_ bytes: ArraySlice<UInt8>) -> [SCRAMAttribute]? {
        var result: [SCRAMAttribute] = []
        for part in bytes.split(separator: comma, omittingEmptySubsequences: false) {
            guard part.count >= 2 else { return nil }
            let key = part[part.startIndex]
            let isAlpha =
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(key)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(key)
            guard isAlpha, part[part.startIndex + 1] == equals else { return nil }
            result.append(SCRAMAttribute(key: key, value: part.dropFirst(2)))
        }
        return result
    }

    /// `saslname = 1*(value-safe-char / "=2C" / "=3D")`: decodes the escapes; nil for any other
    /// `=`, an empty name or invalid UTF-8.
    static func decodeSASLName(_ bytes: ArraySlice<UInt8>) -> String? {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case equals:
                guard bytes.endIndex - index >= 3 else { return nil }
                let escape = (bytes[index + 1], bytes[index + 2])
                if escape == (UInt8(ascii: "2"), UInt8(ascii: "C")) {
                    decoded.append(comma)
                } else if escape == (UInt8(ascii: "3"), UInt8(ascii: "D")) {
                    decoded.append(equals)
                } else {
                    return nil
                }
                index += 3
            case comma, 0:
                return nil
            default:
                decoded.append(byte)
                index += 1
            }
        }
        guard !decoded.isEmpty else { return nil }
        return String(validating: decoded, as: UTF8.self)
    }

    /// Escapes `,` as `=2C` and `=` as `=3D` (RFC 5802 §5.1 `n`).
    static func encodeSASLName(_ name: String) -> [UInt8] {
        var encoded: [UInt8] = []
        for byte in name.utf8 {
            switch byte {
            case comma: encoded += Array("=2C".utf8)
            case equals: encoded += Array("=3D".utf8)
            default: encoded.append(byte)
            }
        }
        return encoded
    }

    /// `printable = %x21-2B / %x2D-7E` (RFC 5802 §7): the characters of a nonce.
    static func isValidNonce(_ bytes: some Collection<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { (0x21...0x7E).contains($0) && $0 != comma }
    }

    /// `posit-number = %x31-39 *DIGIT`, bounded so it cannot overflow.
    static func positiveNumber(_ bytes: ArraySlice<UInt8>, maximum: Int) -> Int? {
        guard let first = bytes.first, (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(first) else { return nil }
        var value = 0
        for byte in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            guard value <= maximum else { return nil }
        }
        return value
    }
}
