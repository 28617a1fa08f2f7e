import NIOCore
import PropertyBased
import Testing

@testable import POP3Core

/// The line-at-a-time encoder (memchr) against the byte-at-a-time reference (ReferenceModels.swift):
/// same bytes, same octet count, same TOP cut-off, for any body and any chunking.
@Suite("DotStuffingEncoder fast path")
struct DotStuffingFastPathTests {
    /// Pieces bodies are built from: runs long enough to span vector words, line ends of
    /// every kind, dots, and bytes next to CR and LF in value (0x0B, 0x0C, 0x0E, 0x8A, 0x8D).
    static let pieces: [[UInt8]] = [
        Array("a".utf8), Array("abcdefg".utf8), Array("Subject: a longer header line here".utf8),
        Array(repeating: UInt8(ascii: "z"), count: 70), Array("\n".utf8), Array("\r".utf8), Array("\r\n".utf8),
        Array(".".utf8), Array("\n.".utf8), Array("\n\n".utf8), [0x0B, 0x0C, 0x0E], [0x8A, 0x8D, 0xFF, 0x80],
        [0x00], Array("..".utf8), Array("\r\r\n".utf8), Array(" \t".utf8),
    ]

    static func body(_ indices: [Int]) -> [UInt8] {
        indices.flatMap { Self.pieces[$0] }
    }

    static func fast(_ body: [UInt8], chunks: [Int], limit: Int?) -> (wire: [UInt8], octets: Int, complete: Bool) {
        encodeInChunks(body, chunks: chunks, bodyLineLimit: limit)
    }

    static func reference(_ body: [UInt8], chunks: [Int], limit: Int?) -> (wire: [UInt8], octets: Int, complete: Bool) {
        var encoder = ReferenceDotStuffingEncoder(bodyLineLimit: limit)
        var output: [UInt8] = []
        var rest = body[...]
        var sizes = chunks.makeIterator()
        while !rest.isEmpty {
            let size = max(1, sizes.next() ?? rest.count)
            encoder.encode(Array(rest.prefix(size)), into: &output)
            rest = rest.dropFirst(size)
        }
        let octets = encoder.messageOctets
        let complete = encoder.isComplete
        encoder.finish(into: &output)
        return (output, octets, complete)
    }

    @Test func matchesTheReferenceForAnyBodyChunkingAndLimit() async {
        await propertyCheck(
            count: 400,
            input: Gen.int(in: 0...(Self.pieces.count - 1)).array(of: 0...120),
            Gen.int(in: 1...97).array(of: 0...40),
            Gen.int(in: -1...12)
        ) { indices, chunks, limit in
            let body = Self.body(indices)
            let topLimit = limit < 0 ? nil : limit
            let fast = Self.fast(body, chunks: chunks, limit: topLimit)
            let reference = Self.reference(body, chunks: chunks, limit: topLimit)
            #expect(fast.wire == reference.wire)
            #expect(fast.octets == reference.octets)
            #expect(fast.complete == reference.complete)
        }
    }

    /// A line break at every offset inside and across eight-byte words, after a chunk that
    /// ends at every offset.
    @Test func lineBreaksAtEveryOffset() {
        for run in 0..<40 {
            for lineEnd in [[UInt8(ascii: "\n")], [UInt8(ascii: "\r"), UInt8(ascii: "\n")], [UInt8(ascii: "\r")]] {
                let body = Array(repeating: UInt8(ascii: "x"), count: run) + lineEnd + Array(".y\n".utf8)
                for split in 0...body.count {
                    let chunks = [max(1, split), body.count]
                    #expect(
                        Self.fast(body, chunks: chunks, limit: nil).wire
                            == Self.reference(body, chunks: chunks, limit: nil).wire,
                        "run \(run), line end \(lineEnd), split \(split)"
                    )
                }
            }
        }
    }

    /// Worst case: every byte doubles (dots at line starts, bare LFs); the encoder reserves
    /// room for it.
    @Test func outputTwiceTheInputFits() {
        let body = Array(String(repeating: ".\n", count: 5000).utf8)
        let (wire, octets, _) = Self.fast(body, chunks: [], limit: nil)
        #expect(wire.count == 2 * body.count + 3)
        #expect(octets == 15_000)
    }
}
