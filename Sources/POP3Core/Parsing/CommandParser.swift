// POP3Core: the command grammar (RFC 1939 §3, RFC 2449 §3, RFC 5034 §5).
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
        guard let decoded = Base64.decode(bytes) else {
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
    public static func parseCommand(line: ByteBuffer) throws -> Command {
        let bytes = Array(line.readableBytesView)
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            throw POP3ParserError(hint: "control character in command")
        }
        let keywordEnd = bytes.firstIndex(of: UInt8(ascii: " ")) ?? bytes.endIndex
        let keywordBytes = bytes[..<keywordEnd]
        guard (3...4).contains(keywordBytes.count), keywordBytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw POP3ParserError(hint: "invalid command keyword")
        }
        let keyword = String(decoding: keywordBytes, as: UTF8.self).uppercased()
        let rest = keywordEnd < bytes.endIndex ? bytes[(keywordEnd + 1)...] : []
        let hasArgumentSeparator = keywordEnd < bytes.endIndex
        let parameters = rest.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)

        func expectCount(_ range: ClosedRange<Int>) throws {
            guard range.contains(parameters.count) else {
                throw POP3ParserError(hint: "wrong number of arguments for \(keyword)")
            }
        }

        switch keyword {
        case "USER":
            try expectCount(1...1)
            return .user(try utf8String(parameters[0], what: "user name"))
        case "PASS":
            guard hasArgumentSeparator else { throw POP3ParserError(hint: "PASS needs an argument") }
            return .pass(Array(rest))
        case "APOP":
            try expectCount(2...2)
            return .apop(
                name: try utf8String(parameters[0], what: "user name"),
                digest: try utf8String(parameters[1], what: "digest")
            )
        case "AUTH":
            try expectCount(1...2)
            return .auth(
                mechanism: try parseMechanism(parameters[0]),
                initialResponse: try parameters.count == 2 ? parseInitialResponse(parameters[1]) : nil
            )
        case "STLS":
            try expectCount(0...0)
            return .stls
        case "CAPA":
            try expectCount(0...0)
            return .capa
        case "STAT":
            try expectCount(0...0)
            return .stat
        case "NOOP":
            try expectCount(0...0)
            return .noop
        case "RSET":
            try expectCount(0...0)
            return .rset
        case "QUIT":
            try expectCount(0...0)
            return .quit
        case "UTF8":
            try expectCount(0...0)
            return .utf8
        case "LIST":
            try expectCount(0...1)
            return .list(try parameters.first.map(parseMessageNumber))
        case "UIDL":
            try expectCount(0...1)
            return .uidl(try parameters.first.map(parseMessageNumber))
        case "RETR":
            try expectCount(1...1)
            return .retr(try parseMessageNumber(parameters[0]))
        case "DELE":
            try expectCount(1...1)
            return .dele(try parseMessageNumber(parameters[0]))
        case "TOP":
            try expectCount(2...2)
            return .top(try parseMessageNumber(parameters[0]), lines: try parseLineCount(parameters[1]))
        case "LANG":
            try expectCount(0...1)
            return .lang(try parameters.first.map { try utf8String($0, what: "language") })
        default:
            return .unknown(keyword: keyword, arguments: parameters.map { String(decoding: $0, as: UTF8.self) })
        }
    }

    private static func utf8String(_ bytes: ArraySlice<UInt8>, what: String) throws -> String {
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw POP3ParserError(hint: "\(what) is not valid UTF-8")
        }
        return string
    }

    /// A decimal number: digits only, no sign, at most `maximumDigits` digits.
    private static func parseDecimal(_ bytes: ArraySlice<UInt8>, maximumDigits: Int) -> Int? {
        guard !bytes.isEmpty, bytes.count <= maximumDigits else { return nil }
        var value = 0
        for byte in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// `msg = 1*DIGIT`, 1 to ``MessageNumber/maximum`` (RFC 1939 §5).
    private static func parseMessageNumber(_ bytes: ArraySlice<UInt8>) throws -> MessageNumber {
        guard let value = parseDecimal(bytes, maximumDigits: 10), let number = MessageNumber(exactly: value) else {
            throw POP3ParserError(hint: "invalid message number")
        }
        return number
    }

    /// The line count of TOP: a non-negative number (RFC 1939 §7). Numbers past `Int32.max`
    /// mean "all lines"; more than 18 digits is refused.
    private static func parseLineCount(_ bytes: ArraySlice<UInt8>) throws -> Int {
        guard let value = parseDecimal(bytes, maximumDigits: 18) else {
            throw POP3ParserError(hint: "invalid line count")
        }
        return value
    }

    /// `sasl-mech = 1*20mech-char`, `mech-char = UPPER-ALPHA / DIGIT / "-" / "_"`
    /// (RFC 4422 §3.1); case-insensitive on input (RFC 5034 §5).
    private static func parseMechanism(_ bytes: ArraySlice<UInt8>) throws -> String {
        let upper = bytes.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) ? $0 - 0x20 : $0 }
        let valid = upper.allSatisfy {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        }
        guard (1...20).contains(upper.count), valid else {
            throw POP3ParserError(hint: "invalid SASL mechanism name")
        }
        return String(decoding: upper, as: UTF8.self)
    }

    /// `initial-response = base64 / "="` (RFC 5034 §5).
    private static func parseInitialResponse(_ bytes: ArraySlice<UInt8>) throws -> [UInt8] {
        if bytes.elementsEqual("=".utf8) { return [] }
        guard let decoded = Base64.decode(bytes), !decoded.isEmpty else {
            throw POP3ParserError(hint: "invalid base64 in initial response")
        }
        return decoded
    }
}
