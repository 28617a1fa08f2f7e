/// Content-Transfer-Encoding decoders (RFC 2045 §6), lenient as RFC 2045 §6.7 and §6.8 allow:
/// they skip what they cannot read rather than fail.
public enum TransferEncoding {
    /// Decodes `bytes` according to the `Content-Transfer-Encoding` value (case-insensitive).
    /// Identity for 7bit, 8bit, binary and unknown encodings.
    public static func decode(_ bytes: ArraySlice<UInt8>, encoding: String) -> [UInt8] {
        switch encoding {
        case "base64": return decodeBase64(bytes)
        case "quoted-printable": return decodeQuotedPrintable(bytes)
        default: return Array(bytes)
        }
    }

    private static let base64Table: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(byte)] = UInt8(value)
        }
        // RFC 4648 §5 base64url turns up in broken mailers; accept it too.
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()

    /// RFC 2045 §6.8: characters outside the alphabet are ignored; `=` padding ends a group.
    /// A trailing partial group of 2 or 3 characters still yields its whole bytes.
    public static func decodeBase64(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count / 4 * 3 + 3)
        var accumulator: UInt32 = 0
        var count = 0
        for byte in bytes {
            if byte == Byte.equals {
                flush(&accumulator, &count, into: &output)
                continue
            }
            let value = base64Table[Int(byte)]
            if value == 0xFF { continue }
            accumulator = accumulator << 6 | UInt32(value)
            count += 1
            if count == 4 {
                output.append(UInt8(truncatingIfNeeded: accumulator >> 16))
                output.append(UInt8(truncatingIfNeeded: accumulator >> 8))
                output.append(UInt8(truncatingIfNeeded: accumulator))
                accumulator = 0
                count = 0
            }
        }
        flush(&accumulator, &count, into: &output)
        return output
    }

    private static func flush(_ accumulator: inout UInt32, _ count: inout Int, into output: inout [UInt8]) {
        switch count {
        case 2:
            output.append(UInt8(truncatingIfNeeded: accumulator >> 4))
        case 3:
            output.append(UInt8(truncatingIfNeeded: accumulator >> 10))
            output.append(UInt8(truncatingIfNeeded: accumulator >> 2))
        default:
            break
        }
        accumulator = 0
        count = 0
    }

    /// RFC 2045 §6.7: `=XX` octets (either case), `=` at line end is a soft break, trailing
    /// whitespace on a line is transport padding. A malformed `=` stays as it is.
    public static func decodeQuotedPrintable(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        let end = bytes.endIndex
        while index < end {
            let lineEnd = Bytes.lineFeed(in: bytes, from: index)
            var contentEnd = lineEnd
            if contentEnd > index, bytes[contentEnd - 1] == Byte.cr { contentEnd -= 1 }
            // Rule 3: trailing whitespace is not part of the data.
            while contentEnd > index, bytes[contentEnd - 1].isWSP { contentEnd -= 1 }
            var softBreak = false
            var cursor = index
            while cursor < contentEnd {
                let byte = bytes[cursor]
                if byte == Byte.equals {
                    if cursor + 1 == contentEnd {
                        softBreak = true
                        cursor += 1
                        continue
                    }
                    if cursor + 2 < contentEnd,
                        let high = bytes[cursor + 1].hexValue, let low = bytes[cursor + 2].hexValue
                    {
                        output.append(high << 4 | low)
                        cursor += 3
                        continue
                    }
                }
                output.append(byte)
                cursor += 1
            }
            if lineEnd < end {
                if !softBreak {
                    if lineEnd > index, bytes[lineEnd - 1] == Byte.cr { output.append(Byte.cr) }
                    output.append(Byte.lf)
                }
                index = lineEnd + 1
            } else {
                index = end
            }
        }
        return output
    }
}
