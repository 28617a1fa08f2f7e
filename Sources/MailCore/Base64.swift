// MailCore: the vocabulary every PostOffice module shares, with no dependencies of its own.
//
// Base64 (RFC 4648 §4) as mail protocols use it: SASL exchanges over POP3 (RFC 5034 §5
// `base64`), SCRAM attributes (RFC 5802 §5.1) and stored password schemes. One strict codec for
// all of them; MIME bodies keep their own lenient decoder in Mailbox (RFC 2045 §6.8 asks a
// reader to skip what is not in the alphabet).

/// Standard base64: padding on output, no line breaks; strict on input.
public enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8
    )

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Encodes bytes as padded base64 text.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: encodeBytes(bytes), as: UTF8.self)
    }

    /// Encodes bytes as padded base64, as ASCII bytes.
    public static func encodeBytes(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var output = [UInt8]()
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let a = iterator.next() {
            let b = iterator.next()
            let c = iterator.next()
            output.append(alphabet[Int(a >> 2)])
            output.append(alphabet[Int((a & 0x03) << 4 | (b ?? 0) >> 4)])
            output.append(b.map { alphabet[Int(($0 & 0x0F) << 2 | (c ?? 0) >> 6)] } ?? UInt8(ascii: "="))
            output.append(c.map { alphabet[Int($0 & 0x3F)] } ?? UInt8(ascii: "="))
        }
        return output
    }

    /// Decodes strict base64 given as text; `nil` when it is not.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        decode(bytes: text.utf8)
    }

    /// Decodes strict base64 given as ASCII bytes: only the alphabet, a multiple of four long,
    /// `=` only as the last one or two, and canonical trailing bits (RFC 4648 §3.5). Returns
    /// `nil` for anything else — whitespace and line breaks included.
    public static func decode(bytes encoded: some Collection<UInt8>) -> [UInt8]? {
        var body = Array(encoded)
        guard body.count % 4 == 0 else { return nil }
        var padding = 0
        while body.last == UInt8(ascii: "="), padding < 2 {
            body.removeLast()
            padding += 1
        }
        if body.count % 4 == 1 { return nil }
        var output = [UInt8]()
        output.reserveCapacity(body.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in body {
            let value = decodeTable[Int(byte)]
            guard value != 0xFF else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        if bits > 0, accumulator & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return output
    }
}
