// Test support: reproducible random input for robustness tests (no libFuzzer needed).

/// SplitMix64: a small, fast, seeded generator, so a failing case can be replayed by seed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { self.state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random byte strings that look enough like POP3 to reach past the parser: keywords,
/// numbers, base64, spaces and line ends mixed with arbitrary bytes.
public enum RandomPOP3Input {
    static let tokens: [String] = [
        "USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE",
        "NOOP", "RSET", "QUIT", "UTF8", "LANG", "user", "QuIt", "PLAIN", "LOGIN", "SCRAM-SHA-256", "XYZ",
        "alice", "pw", "0", "1", "2", "-1", "99", "2147483648", "99999999999999999999", "=", "*", "+",
        "AGFsaWNlAHB3", "AHUAcHc=", "!!", "..", ".", " ", "  ", "\t", "\r\n", "\n", "\r", "\r\n",
    ]

    /// One input of at most `maximumLength` bytes (it may be cut in the middle of a token).
    /// With `bytes`, arbitrary octets (NUL, controls, 8-bit) are mixed in.
    public static func make(using random: inout SeededRandom, maximumLength: Int, bytes: Bool = true) -> [UInt8] {
        let target = Int.random(in: 0...maximumLength, using: &random)
        var output: [UInt8] = []
        while output.count < target {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<6:
                // safe: tokens is not empty.
                output += Array(tokens.randomElement(using: &random)!.utf8)
            case 6..<8:
                output.append(UInt8(ascii: " "))
            case 8:
                output += [0x0D, 0x0A]
            default:
                if bytes {
                    let count = Int.random(in: 1...8, using: &random)
                    for _ in 0..<count { output.append(UInt8.random(in: 0...255, using: &random)) }
                } else {
                    output.append(UInt8.random(in: 0x21...0x7E, using: &random))
                }
            }
        }
        return Array(output.prefix(target))
    }

    /// Splits `input` into chunks of random sizes (1 to `maximumChunk` bytes), as a socket may.
    public static func chunks(of input: [UInt8], using random: inout SeededRandom, maximumChunk: Int) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var start = 0
        while start < input.count {
            let end = min(input.count, start + Int.random(in: 1...maximumChunk, using: &random))
            chunks.append(Array(input[start..<end]))
            start = end
        }
        return chunks
    }
}
