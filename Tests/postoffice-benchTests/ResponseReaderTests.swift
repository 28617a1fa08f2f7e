import NIOCore
import Testing

@testable import postoffice_bench

@Suite("reading and checking server responses")
struct ResponseReaderTests {
    /// Feeds `input` in pieces of `chunk` bytes; returns every event and the bytes left over.
    static func read(
        _ input: String,
        expecting: ExpectedResponse,
        chunk: Int
    ) throws(ProtocolViolation) -> (events: [ResponseEvent], rest: Int) {
        var reader = ResponseReader()
        var buffer = ByteBuffer()
        var events: [ResponseEvent] = []
        let bytes = Array(input.utf8)
        var offset = 0
        repeat {
            let end = min(bytes.count, offset + chunk)
            buffer.writeBytes(bytes[offset..<end])
            offset = end
            while let event = try reader.next(&buffer, expecting: expecting) {
                events.append(event)
            }
        } while offset < bytes.count
        return (events, buffer.readableBytes)
    }

    @Test("status lines, byte by byte and whole", arguments: [1, 3, 1000])
    func statusLines(chunk: Int) throws {
        let (events, rest) = try Self.read("+OK 2 320\r\n-ERR no\r\n+OK partial", expecting: .statusLine, chunk: chunk)
        #expect(events.map(\.statusText) == ["+OK 2 320", "-ERR no"])
        #expect(events.map(\.isOK) == [true, false])
        #expect(rest == "+OK partial".utf8.count)
    }

    @Test("a line that is no status line is a violation")
    func notStatus() {
        #expect(throws: ProtocolViolation.self) {
            _ = try Self.read("hello\r\n", expecting: .statusLine, chunk: 100)
        }
    }

    @Test("an overlong line is a violation before its end arrives")
    func overlong() {
        let long = String(repeating: "x", count: ResponseReader.maximumLineLength + 1)
        #expect(throws: ProtocolViolation.self) {
            _ = try Self.read("+OK " + long, expecting: .statusLine, chunk: 100_000)
        }
    }

    @Test("a listing ends at the lone dot; captured lines come back", arguments: [1, 7, 1000])
    func listing(chunk: Int) throws {
        let input = "+OK\r\n1 aaa\r\n2 bbb\r\n.\r\n+OK next"
        let (captured, _) = try Self.read(input, expecting: .listing(capture: true), chunk: chunk)
        guard case .ok(let status, let lines) = try #require(captured.first) else {
            Issue.record("expected +OK")
            return
        }
        #expect(String(buffer: status) == "+OK")
        #expect(lines.map { String(buffer: $0) } == ["1 aaa", "2 bbb"])
        let (plain, rest) = try Self.read(input, expecting: .listing(capture: false), chunk: chunk)
        #expect(plain.count == 1)
        #expect(rest == "+OK next".utf8.count)
    }

    @Test("a -ERR to a listing command has no body")
    func listingError() throws {
        let (events, rest) = try Self.read("-ERR no such message\r\n", expecting: .listing(capture: true), chunk: 4)
        #expect(events == [.error(line: ByteBuffer(string: "-ERR no such message"))])
        #expect(rest == 0)
    }

    @Test("a message body matching the corpus is accepted, in any chunking", arguments: [1, 2, 5, 64, 100_000])
    func messageMatches(chunk: Int) throws {
        let message = WireMessage(stored: Array("Subject: x\n\n.dot\nbody\n".utf8))
        let input = "+OK 30 octets\r\n" + String(decoding: message.wire, as: UTF8.self) + "+OK"
        let (events, rest) = try Self.read(input, expecting: .message(candidates: [message]), chunk: chunk)
        #expect(events.map(\.statusText) == ["+OK 30 octets"])
        #expect(rest == 3)
    }

    @Test("one wrong byte anywhere in a body is found", arguments: [0, 5, 17, 25])
    func messageMismatch(position: Int) {
        let message = WireMessage(stored: Array("Subject: x\n\n.dot\nbody\n".utf8))
        var wire = message.wire
        wire[position] ^= 0x20
        let input = "+OK\r\n" + String(decoding: wire, as: UTF8.self)
        do {
            _ = try Self.read(input, expecting: .message(candidates: [message]), chunk: 3)
            Issue.record("the changed byte went unnoticed")
        } catch {
            #expect(error.description.contains("at byte \(position) "))
        }
    }

    @Test("a server that does not stuff a leading dot is caught")
    func unstuffedDot() {
        let message = WireMessage(stored: Array("a\n.b\n".utf8))
        #expect(throws: ProtocolViolation.self) {
            _ = try Self.read("+OK\r\na\r\n.b\r\n.\r\n", expecting: .message(candidates: [message]), chunk: 100)
        }
    }

    @Test("among candidates of the same size, the matching one is accepted")
    func candidates() throws {
        let first = WireMessage(stored: Array("aaaa\n".utf8))
        let second = WireMessage(stored: Array("bbbb\n".utf8))
        let (events, _) = try Self.read(
            "+OK\r\nbbbb\r\n.\r\n",
            expecting: .message(candidates: [first, second]),
            chunk: 2
        )
        #expect(events.count == 1)
    }
}
