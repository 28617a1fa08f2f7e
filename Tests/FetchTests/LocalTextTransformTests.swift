import Testing

@testable import Fetch

@Suite("LocalTextTransform streaming")
struct LocalTextTransformTests {
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
