import NIOCore
import POP3Core
import Testing

/// Parses all of `wire` with `shape`, returning the parts and what was left unparsed.
private func parseAll(
    _ wire: String,
    _ shape: ResponseShape,
    chunkSize: Int = 0
) throws -> (parts: [ClientResponsePart], rest: String) {
    var parser = ResponseParser(maximumStatusLineLength: 64, maximumListingLineLength: 32)
    var buffer = ByteBuffer()
    var parts: [ClientResponsePart] = []
    let bytes = Array(wire.utf8)
    let step = chunkSize == 0 ? max(bytes.count, 1) : chunkSize
    var offset = 0
    repeat {
        let end = min(offset + step, bytes.count)
        buffer.writeBytes(bytes[offset..<end])
        offset = end
        while let part = try parser.parse(&buffer, expecting: shape) {
            parts.append(part)
            if case .multiLineEnd = part {
                return (parts, String(buffer: buffer) + String(decoding: bytes[offset...], as: UTF8.self))
            }
            if case .status = part, parser.isAtResponseBoundary {
                return (parts, String(buffer: buffer) + String(decoding: bytes[offset...], as: UTF8.self))
            }
            if case .saslChallenge = part {
                return (parts, String(buffer: buffer) + String(decoding: bytes[offset...], as: UTF8.self))
            }
        }
    } while offset < bytes.count
    return (parts, String(buffer: buffer))
}

/// Joins consecutive content chunks, so drip-fed and whole parses compare equal.
private func coalesced(_ parts: [ClientResponsePart]) -> [ClientResponsePart] {
    var out: [ClientResponsePart] = []
    for part in parts {
        if case .multiLineBytes(var more) = part, case .multiLineBytes(var previous)? = out.last {
            previous.writeBuffer(&more)
            out[out.count - 1] = .multiLineBytes(previous)
        } else {
            out.append(part)
        }
    }
    return out
}

@Suite("Client response parser")
struct ClientResponseParserTests {
    struct Fixture: Sendable, CustomStringConvertible {
        var wire: String
        var shape: ResponseShape
        var parts: [ClientResponsePart]
        var rest: String = ""
        var description: String { "\(self.shape): " + self.wire.debugDescription }
    }

    static let fixtures: [Fixture] = [
        Fixture(
            wire: "+OK POP3 ready <1.2@x>\r\n",
            shape: .singleLine,
            parts: [.status(.ok, code: nil, text: "POP3 ready <1.2@x>")]
        ),
        Fixture(wire: "+OK\r\n", shape: .singleLine, parts: [.status(.ok, code: nil, text: "")]),
        Fixture(wire: "+OK 2 320\n", shape: .singleLine, parts: [.status(.ok, code: nil, text: "2 320")]),
        Fixture(
            wire: "-ERR [IN-USE] locked\r\n",
            shape: .singleLine,
            parts: [.status(.err, code: "IN-USE", text: "locked")]
        ),
        Fixture(
            wire: "-ERR [SYS/TEMP] later\r\n+OK\r\n",
            shape: .singleLine,
            parts: [.status(.err, code: "SYS/TEMP", text: "later")],
            rest: "+OK\r\n"
        ),
        Fixture(wire: "-ERR [unclosed\r\n", shape: .singleLine, parts: [.status(.err, code: nil, text: "[unclosed")]),
        Fixture(
            wire: "-ERR no such message\r\n",
            shape: .multiLineIfOK(.lines),
            parts: [.status(.err, code: nil, text: "no such message")]
        ),
        Fixture(
            wire: "+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n",
            shape: .multiLineIfOK(.lines),
            parts: [
                .status(.ok, code: nil, text: "2 messages"), .multiLineLine(ByteBuffer(string: "1 120")),
                .multiLineLine(ByteBuffer(string: "2 200")), .multiLineEnd,
            ]
        ),
        Fixture(
            wire: "+OK\r\n..odd\r\n.\r\n+OK\r\n",
            shape: .multiLineIfOK(.lines),
            parts: [.status(.ok, code: nil, text: ""), .multiLineLine(ByteBuffer(string: ".odd")), .multiLineEnd],
            rest: "+OK\r\n"
        ),
        Fixture(
            wire: "+OK 5 octets\r\nab\r\n..\r\n.\r\n",
            shape: .multiLineIfOK(.content),
            parts: [
                .status(.ok, code: nil, text: "5 octets"), .multiLineBytes(ByteBuffer(string: "ab\r\n.\r\n")),
                .multiLineEnd,
            ]
        ),
        Fixture(wire: "+ \r\n", shape: .saslContinuationOrFinal, parts: [.saslChallenge("")]),
        Fixture(wire: "+\r\n", shape: .saslContinuationOrFinal, parts: [.saslChallenge("")]),
        Fixture(wire: "+ cj1hYmM=\r\n", shape: .saslContinuationOrFinal, parts: [.saslChallenge("cj1hYmM=")]),
        Fixture(
            wire: "+OK welcome\r\n",
            shape: .saslContinuationOrFinal,
            parts: [.status(.ok, code: nil, text: "welcome")]
        ),
        Fixture(
            wire: "-ERR [AUTH] bad\r\n",
            shape: .saslContinuationOrFinal,
            parts: [.status(.err, code: "AUTH", text: "bad")]
        ),
    ]

    @Test(arguments: fixtures)
    func parsesWhole(_ fixture: Fixture) throws {
        let result = try parseAll(fixture.wire, fixture.shape)
        #expect(coalesced(result.parts) == fixture.parts)
        #expect(result.rest == fixture.rest)
    }

    @Test(arguments: fixtures)
    func parsesDripFed(_ fixture: Fixture) throws {
        let result = try parseAll(fixture.wire, fixture.shape, chunkSize: 1)
        #expect(coalesced(result.parts) == fixture.parts)
        #expect(result.rest == fixture.rest)
    }

    @Test(arguments: ["+OK", "+OK 1 2\r", "-ER", "+ abc"])
    func incompleteConsumesNothing(_ wire: String) throws {
        var parser = ResponseParser()
        var buffer = ByteBuffer(string: wire)
        #expect(try parser.parse(&buffer, expecting: .singleLine) == nil)
        #expect(String(buffer: buffer) == wire)
    }

    @Test(arguments: [
        ("* OK imap\r\n", ResponseShape.singleLine),
        ("+OKAY\r\n", .singleLine),
        ("+ abc\r\n", .singleLine),  // a continuation outside AUTH
        ("\r\n", .singleLine),
        ("OK\r\n", .multiLineIfOK(.content)),
    ])
    func rejectsMalformedStatusLines(_ wire: String, _ shape: ResponseShape) {
        var parser = ResponseParser()
        var buffer = ByteBuffer(string: wire)
        #expect(throws: ResponseParserError.self) { try parser.parse(&buffer, expecting: shape) }
    }

    @Test func rejectsOverlongStatusLineBeforeItEnds() {
        var parser = ResponseParser(maximumStatusLineLength: 64)
        var buffer = ByteBuffer(string: "+OK " + String(repeating: "x", count: 100))
        #expect(throws: ResponseParserError.self) { try parser.parse(&buffer, expecting: .singleLine) }
    }

    @Test func rejectsOverlongListingLine() throws {
        var parser = ResponseParser(maximumListingLineLength: 16)
        var buffer = ByteBuffer(string: "+OK\r\n1 " + String(repeating: "9", count: 40) + "\r\n.\r\n")
        _ = try parser.parse(&buffer, expecting: .multiLineIfOK(.lines))
        #expect(throws: ResponseParserError.self) { try parser.parse(&buffer, expecting: .multiLineIfOK(.lines)) }
    }

    @Test func contentLinesMayBeLongerThanAnyLimit() throws {
        let longLine = String(repeating: "z", count: 100_000)
        let result = try parseAll("+OK\r\n\(longLine)\r\n.\r\n", .multiLineIfOK(.content), chunkSize: 4096)
        #expect(
            coalesced(result.parts) == [
                .status(.ok, code: nil, text: ""), .multiLineBytes(ByteBuffer(string: longLine + "\r\n")),
                .multiLineEnd,
            ]
        )
    }
}
