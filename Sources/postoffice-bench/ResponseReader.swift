// Reads a POP3 server's responses for the bench: status lines, listings, and message bodies checked
// byte for byte against what the server must send (RFC 1939 §3). Independent of PostOffice's
// client, and cheap: a body is checked with memcmp against its expected wire form, never copied.

import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the next response looks like; the command it answers decides (RFC 2449 §3).
enum ExpectedResponse: Hashable, Sendable {
    /// A status line only (greeting, USER, PASS, STAT, NOOP, QUIT).
    case statusLine
    /// A status line, then, if `+OK`, listing lines up to ".\r\n" (UIDL, LIST). With `capture`
    /// the lines come back in the event.
    case listing(capture: Bool)
    /// A status line, then, if `+OK`, a message body that must be one of `candidates` exactly
    /// (all of the same size; usually one).
    case message(candidates: [WireMessage])
}

/// One complete response.
enum ResponseEvent: Hashable, Sendable {
    /// `+OK` with its line (CRLF excluded); for a listing, its lines (when captured).
    case ok(line: ByteBuffer, listing: [ByteBuffer])
    /// `-ERR` with its line (CRLF excluded).
    case error(line: ByteBuffer)

    var isOK: Bool {
        if case .ok = self { return true }
        return false
    }

    /// The status line as text, for reports.
    var statusText: String {
        switch self {
        case .ok(let line, _), .error(let line):
            return String(buffer: line)
        }
    }
}

/// Why the bench stopped reading a connection.
struct ProtocolViolation: Error, Hashable, CustomStringConvertible {
    var description: String
}

/// Incremental reader of responses: call `next` with the bytes received so far; it consumes
/// whole status and listing lines only, and message bytes as they come.
struct ResponseReader {
    /// Longest status or listing line accepted. RFC 2449 §4 allows 512 octets; servers send more
    /// in greetings and CAPA, so the bench is liberal but bounded.
    static let maximumLineLength = 8192

    private enum State {
        case statusLine
        case listing(lines: [ByteBuffer], capture: Bool, status: ByteBuffer)
        case message(Body)
    }

    private struct Body {
        var candidates: [WireMessage]
        var offset = 0
        var status: ByteBuffer
    }

    private var state = State.statusLine

    /// Whether the reader is between responses.
    var isAtBoundary: Bool {
        if case .statusLine = self.state { return true }
        return false
    }

    /// The next complete response in `buffer`, or `nil` when more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer, expecting: ExpectedResponse) throws(ProtocolViolation)
        -> ResponseEvent?
    {
        while true {
            switch self.state {
            case .statusLine:
                guard let line = try Self.line(in: &buffer) else { return nil }
                let isOK = line.readableBytesView.starts(with: "+OK".utf8)
                guard isOK || line.readableBytesView.starts(with: "-ERR".utf8) else {
                    throw ProtocolViolation(description: "not a status line: \(Self.excerpt(line))")
                }
                guard isOK else { return .error(line: line) }
                switch expecting {
                case .statusLine:
                    return .ok(line: line, listing: [])
                case .listing(let capture):
                    self.state = .listing(lines: [], capture: capture, status: line)
                case .message(let candidates):
                    precondition(!candidates.isEmpty, "a message check needs at least one candidate")
                    self.state = .message(Body(candidates: candidates, status: line))
                }
            case .listing(var lines, let capture, let status):
                guard let line = try Self.line(in: &buffer) else { return nil }
                if line.readableBytesView.elementsEqual(CollectionOfOne(WireForm.dot)) {
                    self.state = .statusLine
                    return .ok(line: status, listing: lines)
                }
                if capture {
                    self.state = .statusLine  // drop the reference before appending (no copy)
                    lines.append(line)
                }
                self.state = .listing(lines: lines, capture: capture, status: status)
            case .message(var body):
                guard buffer.readableBytes > 0 else { return nil }
                try Self.check(&buffer, against: &body)
                if body.offset == body.candidates[0].wire.count {
                    self.state = .statusLine
                    return .ok(line: body.status, listing: [])
                }
                self.state = .message(body)
            }
        }
    }

    /// Compares the next bytes of `buffer` with every remaining candidate at `body.offset`,
    /// consuming them; throws when none matches.
    private static func check(_ buffer: inout ByteBuffer, against body: inout Body) throws(ProtocolViolation) {
        let expectedLength = body.candidates[0].wire.count
        let count = min(buffer.readableBytes, expectedLength - body.offset)
        let offset = body.offset
        let matching = buffer.withUnsafeReadableBytes { received in
            body.candidates.filter { candidate in
                candidate.wire.withUnsafeBytes { expected in
                    memcmp(received.baseAddress!, expected.baseAddress! + offset, count) == 0  // safe: count ≥ 1
                }
            }
        }
        guard !matching.isEmpty else {
            throw ProtocolViolation(
                description: Self.mismatch(buffer, count: count, expected: body.candidates[0], at: offset)
            )
        }
        if matching.count != body.candidates.count {
            body.candidates = matching
        }
        buffer.moveReaderIndex(forwardBy: count)
        body.offset += count
    }

    private static func mismatch(_ buffer: ByteBuffer, count: Int, expected: WireMessage, at offset: Int) -> String {
        let received = buffer.getBytes(at: buffer.readerIndex, length: count) ?? []
        let first =
            zip(received, expected.wire[offset...]).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? 0
        let position = offset + first
        let got = received[first..<min(received.count, first + 16)]
        let want = expected.wire[position..<min(expected.wire.count, position + 16)]
        return "message body differs at byte \(position) of \(expected.wire.count) "
            + "(got \(Self.hex(got)), expected \(Self.hex(want)))"
    }

    /// The next line without its CRLF (a bare LF is tolerated), or `nil` if it is incomplete.
    private static func line(in buffer: inout ByteBuffer) throws(ProtocolViolation) -> ByteBuffer? {
        let view = buffer.readableBytesView
        guard let end = view.firstIndex(of: WireForm.lf) else {
            if buffer.readableBytes > Self.maximumLineLength {
                throw ProtocolViolation(description: "line longer than \(Self.maximumLineLength) octets")
            }
            return nil
        }
        let length = end - view.startIndex
        var contentLength = length
        if contentLength > 0 && view[end - 1] == WireForm.cr {
            contentLength -= 1
        }
        let line = buffer.getSlice(at: buffer.readerIndex, length: contentLength)!  // safe: within readable bytes
        buffer.moveReaderIndex(forwardBy: length + 1)
        return line
    }

    static func excerpt(_ line: ByteBuffer) -> String {
        String(decoding: line.readableBytesView.prefix(80), as: UTF8.self)
    }

    private static func hex(_ bytes: some Collection<UInt8>) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
