// POP3Core: the command grammar (RFC 1939 §3, RFC 2449 §3, RFC 5034 §5).
import MailCore

public import struct NIOCore.ByteBuffer

/// Parses client lines, incrementally and restartably.
///
/// Framing (``LineFramer``) and grammar are separate: ``parseClientLine(buffer:expecting:)``
/// frames then parses; ``parseCommand(line:)`` and ``parseSASLResponse(line:)`` parse one
/// line already framed (without CRLF).
///
/// Errors consume the offending line, so the session goes on with the next one (a server
/// answers `-ERR` and continues, RFC 1939 §3).
public struct CommandParser: Hashable, Sendable {
    /// What the next line is expected to be; the session state decides.
    public enum Expectation: Hashable, Sendable {
        case command
        /// A line of an AUTH exchange (RFC 5034 §4).
        case saslResponse
    }

    public var limits: POP3Limits
    private var framer: LineFramer

    public init(limits: POP3Limits = POP3Limits()) {
        self.limits = limits
        self.framer = LineFramer(maximumLineLength: limits.maximumLineLength)
    }

    /// The next client line; `nil` when more bytes are needed, and then nothing is consumed
    /// (apart from the dropped tail of an overlong line).
    ///
    /// - Throws: ``ExceededLineLengthLimit`` for a line over the limit of `expecting`, and
    ///   ``POP3ParserError`` for a malformed line. Either way the bad line is consumed (an
    ///   overlong one as its bytes arrive).
    public mutating func parseClientLine(buffer: inout ByteBuffer, expecting: Expectation) throws -> ClientLine? {
        switch self.framer.next(buffer: &buffer) {
        case .none:
            return nil
        case .overlong(let error):
            throw error
        case .line(let line):
            return try Self.parse(line: line, expecting: expecting, limits: self.limits)
        }
    }

    /// Parses one framed line for `expecting`, applying that expectation's length limit
    /// (counted as if the line ended in CRLF).
    public static func parse(line: ByteBuffer, expecting: Expectation, limits: POP3Limits) throws -> ClientLine {
        switch expecting {
        case .command:
            guard line.readableBytes + 2 <= limits.maximumCommandLineLength else {
                throw ExceededLineLengthLimit(actual: line.readableBytes + 2, maximum: limits.maximumCommandLineLength)
            }
            return .command(try parseCommand(line: line))
        case .saslResponse:
            guard line.readableBytes + 2 <= limits.maximumSASLResponseLineLength else {
                throw ExceededLineLengthLimit(
                    actual: line.readableBytes + 2,
                    maximum: limits.maximumSASLResponseLineLength
                )
            }
            return try parseSASLResponse(line: line)
        }
    }

    /// ```
    /// continuation  = [base64] / cancel-response   ; RFC 5034 §5: *(CRLF [base64]) [CRLF cancel-response]
    /// cancel-response = "*"
    /// ```
    public static func parseSASLResponse(line: ByteBuffer) throws -> ClientLine {
        let bytes = line.readableBytesView
        if bytes.elementsEqual("*".utf8) { return .saslCancel }
        guard let decoded = Base64.decode(bytes: bytes) else {
            throw POP3ParserError(hint: "invalid base64 in SASL response")
        }
        return .saslResponse(decoded)
    }

    /// ```
    /// command  = keyword *(SP param) CRLF   ; RFC 2449 §3, 255 octets maximum
    /// keyword  = 3*4VCHAR
    /// param    = 1*VCHAR
    /// ```
    /// Liberal where it is harmless: runs of spaces count as one separator and trailing spaces
    /// are ignored, except in `PASS`, whose argument is the rest of the line (RFC 1939 §7).
    /// 8-bit bytes are accepted in arguments (RFC 6856); control characters nowhere.
    ///
    /// Works on the bytes in place: the keyword is matched as a packed integer and only the
    /// arguments a command keeps become `String`s or arrays.
    public static func parseCommand(line: ByteBuffer) throws -> Command {
        try line.withUnsafeReadableBytes { try CommandLineBytes($0).parse() }
    }
}
