import NIOCore
import POP3Core
import PropertyBased
import Testing

/// Feeds `wire` to a fresh decoder in chunks of `chunkSize` (0: all at once) and returns the
/// body, whether the terminator was seen, and the bytes left after it.
private func unstuff(_ wire: [UInt8], chunkSize: Int = 0) -> (body: [UInt8], finished: Bool, rest: [UInt8]) {
    var decoder = DotUnstuffingDecoder()
    var output = ByteBuffer()
    var rest: [UInt8] = []
    var offset = 0
    let step = chunkSize == 0 ? max(wire.count, 1) : chunkSize
    while offset < wire.count {
        let end = min(offset + step, wire.count)
        var input = ByteBuffer(bytes: wire[offset..<end])
        if decoder.isFinished {
            rest += input.readableBytesView
        } else {
            decoder.decode(&input, into: &output)
            rest += input.readableBytesView
        }
        offset = end
    }
    return (Array(output.readableBytesView), decoder.isFinished, rest)
}

/// A reference stuffer written from RFC 1939 §3, independent of the server's encoder: prefix
/// "." to each line (after CRLF) that starts with ".", end the last line, add ".CRLF".
private func referenceStuff(_ body: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var atLineStart = true
    var previous: UInt8? = nil
    for byte in body {
        if atLineStart && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
        out.append(byte)
        atLineStart = previous == UInt8(ascii: "\r") && byte == UInt8(ascii: "\n")
        previous = byte
    }
    if !body.isEmpty && !atLineStart { out += Array("\r\n".utf8) }
    return out + Array(".\r\n".utf8)
}

/// What an unstuffed body is: the body with its last line ended by CRLF.
private func normalised(_ body: [UInt8]) -> [UInt8] {
    if body.isEmpty || body.suffix(2) == [13, 10] { return body }
    return body + [13, 10]
}

@Suite("Dot-unstuffing decoder")
struct ClientDotUnstuffingTests {
    struct Fixture: Sendable, CustomStringConvertible {
        var wire: [UInt8]
        var body: [UInt8]
        var rest: [UInt8] = []
        init(_ wire: String, _ body: String, rest: String = "") {
            self.wire = Array(wire.utf8)
            self.body = Array(body.utf8)
            self.rest = Array(rest.utf8)
        }
        init(bytes wire: [UInt8], body: [UInt8]) {
            self.wire = wire
            self.body = body
        }
        var description: String {
            String(decoding: self.wire, as: UTF8.self)
                .replacingControlPictures()
        }
    }

    static let fixtures: [Fixture] = [
        Fixture(".\r\n", ""),
        Fixture("a\r\n.\r\n", "a\r\n"),
        Fixture("..a\r\n.\r\n", ".a\r\n"),
        Fixture("a\r\n..\r\n.\r\n", "a\r\n.\r\n"),
        Fixture("a\r\n...\r\n.\r\n", "a\r\n..\r\n"),
        Fixture("a\n.\r\nb\r\n.\r\n", "a\n.\r\nb\r\n"),  // bare LF starts no line
        Fixture("a\r.\r\n.\r\n", "a\r.\r\n"),  // nor does a bare CR
        Fixture(".\rx\r\n.\r\n", "\rx\r\n"),  // ".CR" not followed by LF: the dot was stuffing
        Fixture(".\r\r\n.\r\n", "\r\r\n"),
        Fixture(".\n.\r\n.\r\n", "\n.\r\n"),
        Fixture("\r\n\r\n.\r\n", "\r\n\r\n"),
        Fixture("a\r\n.\r\n+OK next\r\n", "a\r\n", rest: "+OK next\r\n"),
        Fixture("x\r\n.\r\n.\r\n", "x\r\n", rest: ".\r\n"),
        Fixture(
            bytes: [0, 0xFF, 0x80, 13, 10, 46, 46, 0, 13, 10, 46, 13, 10],
            body: [0, 0xFF, 0x80, 13, 10, 46, 0, 13, 10]
        ),
    ]

    @Test(arguments: fixtures)
    func decodesWhole(_ fixture: Fixture) {
        let result = unstuff(fixture.wire)
        #expect(result.body == fixture.body)
        #expect(result.finished)
        #expect(result.rest == fixture.rest)
    }

    @Test(arguments: fixtures)
    func decodesDripFed(_ fixture: Fixture) {
        let result = unstuff(fixture.wire, chunkSize: 1)
        #expect(result.body == fixture.body)
        #expect(result.finished)
        #expect(result.rest == fixture.rest)
    }

    @Test(arguments: fixtures)
    func decodesSplitAnywhere(_ fixture: Fixture) {
        for split in 0...fixture.wire.count {
            var decoder = DotUnstuffingDecoder()
            var output = ByteBuffer()
            var first = ByteBuffer(bytes: fixture.wire[..<split])
            var second = ByteBuffer(bytes: fixture.wire[split...])
            decoder.decode(&first, into: &output)
            var rest = Array(first.readableBytesView)
            if !decoder.isFinished { decoder.decode(&second, into: &output) }
            rest += second.readableBytesView
            #expect(Array(output.readableBytesView) == fixture.body, "split at \(split)")
            #expect(rest == fixture.rest, "split at \(split)")
        }
    }

    @Test func unterminatedBodyIsNotFinished() {
        let result = unstuff(Array("a\r\n.x\r\n".utf8), chunkSize: 1)
        #expect(!result.finished)
        #expect(result.body == Array("a\r\nx\r\n".utf8))
    }

    @Test func heldBackCRIsNotLostWhenTheBodyGoesOn() {
        var decoder = DotUnstuffingDecoder()
        var output = ByteBuffer()
        var input = ByteBuffer(string: ".\r")
        #expect(!decoder.decode(&input, into: &output))
        #expect(output.readableBytes == 0)
        input = ByteBuffer(string: "y\r\n.\r\n")
        #expect(decoder.decode(&input, into: &output))
        #expect(String(buffer: output) == "\ry\r\n")
    }

    /// Bytes that make dot-stuffing interesting, often enough to matter.
    static let alphabet: [[UInt8]] = [[46], [13], [10], [13, 10], [46, 46], [97], [0], [0xFF], [13, 10, 46]]

    @Test func roundTripsRandomBodiesInRandomChunks() async {
        await propertyCheck(
            count: 300,
            input: Gen.int(in: 0...(Self.alphabet.count - 1)).array(of: 0...200),
            Gen.int(in: 1...23)
        ) { pieces, chunkSize in
            let body = pieces.flatMap { Self.alphabet[$0] }
            let wire = referenceStuff(body) + Array("+OK\r\n".utf8)
            let result = unstuff(wire, chunkSize: chunkSize)
            #expect(result.finished)
            #expect(result.body == normalised(body))
            #expect(result.rest == Array("+OK\r\n".utf8))
        }
    }
}

extension String {
    /// Shows CR and LF as control pictures, for readable fixture names.
    fileprivate func replacingControlPictures() -> String {
        var out = ""
        for scalar in self.unicodeScalars {
            switch scalar {
            case "\r": out += "␍"
            case "\n": out += "␊"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
