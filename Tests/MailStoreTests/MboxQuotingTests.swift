import PropertyBased
import Testing

@testable import MailStore

@Suite("mboxrd quoting and local line ends")
struct MboxQuotingTests {
    static func transform(_ input: String, quote: Bool, chunk: Int) -> String {
        var transform = LocalTextTransform(quoteFromLines: quote)
        var output: [UInt8] = []
        let bytes = Array(input.utf8)
        var start = 0
        while start < bytes.count {
            let end = min(start + chunk, bytes.count)
            transform.transform(bytes[start..<end], into: &output)
            start = end
        }
        transform.finish(into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    @Test(
        "CRLF to LF and mboxrd quoting, at every chunk size",
        arguments: [
            ("a\r\nb\r\n", false, "a\nb\n"),
            ("a\rb\r\n\r", false, "a\rb\n\r"),
            ("From x\r\n", true, ">From x\n"),
            ("From x\r\n", false, "From x\n"),
            (
                "x\r\n>From y\r\n>>From z\r\nFrom\r\nFro\r\n From a\r\n", true,
                "x\n>>From y\n>>>From z\nFrom\nFro\n From a\n"
            ),
            (">>>", true, ">>>"),
            ("From", true, "From"),
            ("a From b\r\nFrom: header\r\n", true, "a From b\nFrom: header\n"),
        ]
    )
    func transformCases(input: String, quote: Bool, expected: String) {
        for chunk in 1...8 {
            #expect(Self.transform(input, quote: quote, chunk: chunk) == expected, "chunk \(chunk)")
        }
    }

    /// Feeds `bytes` to the unquoter in chunks of the given sizes (cycled).
    static func unquote(_ bytes: [UInt8], chunks: [Int]) -> [UInt8] {
        var unquoter = MboxUnquoter()
        var output: [UInt8] = []
        var start = 0
        var turn = 0
        while start < bytes.count {
            let end = min(bytes.count, start + max(1, chunks[turn % chunks.count]))
            unquoter.unquote(bytes[start..<end], into: &output)
            start = end
            turn += 1
        }
        unquoter.finish(into: &output)
        return output
    }

    @Test(
        "unquoting drops one '>' from '>+From ' lines only, at every chunk size",
        arguments: [
            (">From x\n", "From x\n"),
            (">>From x\n>>>From y\n", ">From x\n>>From y\n"),
            ("From x\n", "From x\n"),
            (">Fro\n>\n>>\n> From\n>From", ">Fro\n>\n>>\n> From\n>From"),
            ("a >From b\n>From\r\n", "a >From b\n>From\r\n"),
            (">From \r\n>>From", "From \r\n>>From"),
        ]
    )
    func unquoteCases(stored: String, expected: String) {
        for chunk in 1...9 {
            #expect(
                String(decoding: Self.unquote(Array(stored.utf8), chunks: [chunk]), as: UTF8.self) == expected,
                "chunk \(chunk)"
            )
        }
    }

    @Test("quote then unquote gives the message back, drip-fed in random chunks")
    func roundTripDripFed() async {
        let pieces = ["From ", ">", "From", "\n", "\r\n", "x", " ", "F", ">From ", "\r"].map { Array($0.utf8) }
        await propertyCheck(
            count: 400,
            input: Gen.int(in: 0..<pieces.count).array(of: 0...60),
            Gen.int(in: 1...7).array(of: 1...5)
        ) { choices, chunks in
            let message = choices.flatMap { pieces[$0] }
            // Quote without line-end conversion, fed in the same random chunks.
            var quoter = LocalTextTransform(quoteFromLines: true, convertCRLF: false)
            var quoted: [UInt8] = []
            var start = 0
            var turn = 0
            while start < message.count {
                let end = min(message.count, start + chunks[turn % chunks.count])
                quoter.transform(message[start..<end], into: &quoted)
                start = end
                turn += 1
            }
            quoter.finish(into: &quoted)
            #expect(quoted == Mbox.quote(message), "chunking does not change the quoted form")
            for line in quoted.split(separator: 0x0A, omittingEmptySubsequences: false) {
                #expect(!line.starts(with: Array("From ".utf8)), "no stored line can pass for a separator")
            }
            #expect(Self.unquote(quoted, chunks: chunks) == message)
        }
    }

    @Test("the unquoter holds at most the line's first '>' and four bytes of 'From'")
    func unquoteMemoryIsBounded() {
        var unquoter = MboxUnquoter()
        var output: [UInt8] = []
        let run = [UInt8](repeating: UInt8(ascii: ">"), count: 64 * 1024)
        for round in 1...8 {
            unquoter.unquote(run, into: &output)
            #expect(output.count == round * run.count - 1, "only the first '>' is held")
        }
        unquoter.unquote(Array("From x\n".utf8), into: &output)
        unquoter.finish(into: &output)
        #expect(output.count == 8 * run.count - 1 + "From x\n".utf8.count)
    }

    @Test("a long run of '>' at a line start streams through instead of being held")
    func quoteRunIsNotHeld() {
        var transform = LocalTextTransform(quoteFromLines: true)
        var output: [UInt8] = []
        let chunk = [UInt8](repeating: UInt8(ascii: ">"), count: 64 * 1024)
        for round in 1...16 {
            transform.transform(chunk, into: &output)
            // At most "From" (4 bytes) may be held back; every '>' is already out.
            #expect(output.count == round * chunk.count)
        }
        transform.transform(Array("From x\n".utf8), into: &output)
        transform.finish(into: &output)
        #expect(output.count == 16 * chunk.count + 1 + "From x\n".utf8.count)
        #expect(output.suffix(7) == ArraySlice("From x\n".utf8))
    }

    /// The earlier implementation (bytes held in an array), as the reference for the output.
    struct Reference {
        var pendingCR = false
        var atLineStart = true
        var held: [UInt8] = []
        var fromMatched = 0
        var output: [UInt8] = []
        static let from = Array("From ".utf8)

        mutating func feed(_ input: [UInt8]) {
            for byte in input {
                if pendingCR {
                    pendingCR = false
                    if byte != 10 { emit(13) }
                }
                if byte == 13 {
                    pendingCR = true
                    continue
                }
                emit(byte)
            }
        }

        mutating func finish() {
            if pendingCR {
                pendingCR = false
                emit(13)
            }
            flushHeld()
        }

        mutating func emit(_ byte: UInt8) {
            guard atLineStart else { return put(byte) }
            if fromMatched == 0 && byte == UInt8(ascii: ">") { return held.append(byte) }
            if byte == Self.from[fromMatched] {
                held.append(byte)
                fromMatched += 1
                if fromMatched == Self.from.count {
                    put(UInt8(ascii: ">"))
                    flushHeld()
                }
                return
            }
            flushHeld()
            put(byte)
        }

        mutating func flushHeld() {
            let bytes = held
            held = []
            fromMatched = 0
            for byte in bytes { put(byte) }
            if !bytes.isEmpty { atLineStart = false }
        }

        mutating func put(_ byte: UInt8) {
            output.append(byte)
            atLineStart = byte == 10
        }
    }

    @Test("output is byte-identical to the held-bytes implementation", arguments: 0..<40)
    func matchesReference(seed: UInt64) {
        var random = SplitMix(seed: seed)
        let alphabet = Array(">>>From \r\n\nxF".utf8)
        let length = Int(random.next() % 400)
        let input = (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
        var reference = Reference()
        reference.feed(input)
        reference.finish()
        var transform = LocalTextTransform(quoteFromLines: true)
        var output: [UInt8] = []
        var start = 0
        while start < input.count {
            let end = min(input.count, start + 1 + Int(random.next() % 9))
            transform.transform(input[start..<end], into: &output)
            start = end
        }
        transform.finish(into: &output)
        #expect(output == reference.output)
        #expect(transform.lineFeeds == output.count { $0 == 10 })
        #expect(transform.endsWithNewline == (output.last.map { $0 == 10 } ?? true))
    }
}

/// A small deterministic generator for reproducible inputs.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
