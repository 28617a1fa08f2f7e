// Incremental parser for what a POP3 server sends to a client (RFC 1939 §3, RFC 2449 §3 and §8,
// RFC 5034 §4). Framing (finding line ends, enforcing limits) comes first; multi-line message
// bodies go through the dot-unstuffing decoder, never through the line grammar.

public import struct NIOCore.ByteBuffer

/// Parses server responses one part at a time, given the shape the client expects.
///
/// `parse(_:expecting:)` returns `nil` when it needs more bytes. For status and listing lines it
/// then consumes nothing; for message content it consumes what it could decode (the decoder keeps
/// its state), so a body of any size streams through in bounded memory.
///
/// - SeeAlso: [RFC 2449 §3](https://datatracker.ietf.org/doc/html/rfc2449#section-3)
public struct ResponseParser: Hashable, Sendable {
    enum State: Hashable, Sendable {
        case statusLine
        case listing
        case content(DotUnstuffingDecoder)
    }

    /// Longest status or continuation line accepted, line end included. RFC 2449 §4 allows 512
    /// octets; real servers send longer greetings and CAPA lines, so the client is liberal but capped.
    public var maximumStatusLineLength: Int
    /// Longest line of a listing (`LIST`, `UIDL`, `CAPA`) accepted, line end included.
    public var maximumListingLineLength: Int

    private(set) var state: State = .statusLine

    /// Whether the parser is between responses (not inside a multi-line body).
    public var isAtResponseBoundary: Bool { self.state == .statusLine }

    public init(maximumStatusLineLength: Int = 8192, maximumListingLineLength: Int = 8192) {
        self.maximumStatusLineLength = maximumStatusLineLength
        self.maximumListingLineLength = maximumListingLineLength
    }

    /// Parses the next part from `buffer`.
    ///
    /// - Parameter shape: what the response now being read looks like; consulted only at the
    ///   start of a response (its status line).
    /// - Returns: the next part, or `nil` if `buffer` holds too little.
    /// - Throws: `ResponseParserError` for malformed or overlong lines.
    public mutating func parse(
        _ buffer: inout ByteBuffer,
        expecting shape: ResponseShape
    ) throws(ResponseParserError) -> ClientResponsePart? {
        switch self.state {
        case .statusLine:
            return try self.parseStatusLine(&buffer, shape: shape)
        case .listing:
            return try self.parseListingLine(&buffer)
        case .content(var decoder):
            if decoder.isFinished {
                self.state = .statusLine
                return .multiLineEnd
            }
            guard buffer.readableBytes > 0 else { return nil }
            var output = ByteBuffer()
            output.reserveCapacity(buffer.readableBytes)
            let finished = decoder.decode(&buffer, into: &output)
            self.state = .content(decoder)
            if output.readableBytes > 0 { return .multiLineBytes(output) }
            if finished {
                self.state = .statusLine
                return .multiLineEnd
            }
            return nil
        }
    }

    // single-line = status [SP text] CRLF            (RFC 2449 §3)
    // status      = "+OK" / "-ERR"
    // text        = [resp-code SP] *schar             (RFC 2449 §8: resp-code = "[" ... "]")
    // continue    = "+" [SP base64] CRLF              (RFC 5034 §4, only while authenticating)
    private mutating func parseStatusLine(
        _ buffer: inout ByteBuffer,
        shape: ResponseShape
    ) throws(ResponseParserError) -> ClientResponsePart? {
        guard let line = try Self.nextLine(in: &buffer, maximumLength: self.maximumStatusLineLength) else {
            return nil
        }
        let bytes = Array(line.readableBytesView)
        if shape == .saslContinuationOrFinal, bytes.first == UInt8(ascii: "+"),
            bytes.count == 1 || bytes[1] == UInt8(ascii: " ")
        {
            let payload = bytes.dropFirst(bytes.count == 1 ? 1 : 2)
            return .saslChallenge(String(decoding: payload, as: UTF8.self))
        }
        let status: ResponseStatus
        let rest: ArraySlice<UInt8>
        if Self.hasPrefix(bytes, "+OK") {
            status = .ok
            rest = bytes.dropFirst(3)
        } else if Self.hasPrefix(bytes, "-ERR") {
            status = .err
            rest = bytes.dropFirst(4)
        } else {
            throw ResponseParserError(hint: "a status line must start with +OK or -ERR")
        }
        if let first = rest.first, first != UInt8(ascii: " ") {
            throw ResponseParserError(hint: "no space after the status indicator")
        }
        let (code, text) = Self.splitResponseCode(rest.drop { $0 == UInt8(ascii: " ") })
        if status == .ok, case .multiLineIfOK(let body) = shape {
            switch body {
            case .lines: self.state = .listing
            case .content: self.state = .content(DotUnstuffingDecoder())
            }
        }
        return .status(status, code: code, text: text)
    }

    private mutating func parseListingLine(_ buffer: inout ByteBuffer) throws(ResponseParserError)
        -> ClientResponsePart?
    {
        guard var line = try Self.nextLine(in: &buffer, maximumLength: self.maximumListingLineLength) else {
            return nil
        }
        if line.readableBytesView.first == UInt8(ascii: ".") {
            if line.readableBytes == 1 {
                self.state = .statusLine
                return .multiLineEnd
            }
            // RFC 1939 §3: a line starting with the termination octet was byte-stuffed.
            line.moveReaderIndex(forwardBy: 1)
        }
        return .multiLineLine(line)
    }

    /// Cuts the next line (without CRLF or a bare LF ending) off `buffer`, or returns nil and
    /// consumes nothing when no line end has arrived yet.
    private static func nextLine(
        in buffer: inout ByteBuffer,
        maximumLength: Int
    ) throws(ResponseParserError) -> ByteBuffer? {
        let view = buffer.readableBytesView
        guard let lf = view.prefix(maximumLength).firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count >= maximumLength {
                throw ResponseParserError(hint: "line longer than \(maximumLength) octets")
            }
            return nil
        }
        let lineLength = lf - view.startIndex
        var line = buffer.readSlice(length: lineLength + 1)!  // safe: lf is inside the readable bytes
        line.moveWriterIndex(to: line.writerIndex - 1)
        if line.readableBytesView.last == UInt8(ascii: "\r") {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
        return line
    }

    private static func hasPrefix(_ bytes: [UInt8], _ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard bytes.count >= count else { return false }
        return prefix.withUTF8Buffer { expected in
            for index in 0..<count where Self.upper(bytes[index]) != expected[index] { return false }
            return true
        }
    }

    private static func upper(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
    }

    /// Splits "[CODE] text" (RFC 2449 §8). A line without a closed bracket has no code.
    private static func splitResponseCode(_ rest: ArraySlice<UInt8>) -> (String?, String) {
        guard rest.first == UInt8(ascii: "["), let close = rest.firstIndex(of: UInt8(ascii: "]")) else {
            return (nil, String(decoding: rest, as: UTF8.self))
        }
        let code = String(decoding: rest[(rest.startIndex + 1)..<close], as: UTF8.self)
        let text = rest[(close + 1)...].drop { $0 == UInt8(ascii: " ") }
        return (code.isEmpty ? nil : code, String(decoding: text, as: UTF8.self))
    }
}
