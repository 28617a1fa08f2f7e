// POP3Core: the command grammar over the bytes of one framed line (RFC 1939 §3, RFC 2449 §3).

/// One framed command line (no CRLF), parsed in place.
///
/// The keyword is upper-cased into a packed integer and matched without making a `String`;
/// parameters are ranges of the line until a command turns them into its typed arguments.
/// ``CommandParser/parseCommand(line:)`` is the entry point and documents the grammar.
import MailCore

struct CommandLineBytes {
    private let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Keywords packed big-endian, one byte per letter: `USER` is 0x55534552.
    private enum Keyword {
        static let user = pack("USER")
        static let pass = pack("PASS")
        static let apop = pack("APOP")
        static let auth = pack("AUTH")
        static let stls = pack("STLS")
        static let capa = pack("CAPA")
        static let stat = pack("STAT")
        static let noop = pack("NOOP")
        static let rset = pack("RSET")
        static let quit = pack("QUIT")
        static let utf8 = pack("UTF8")
        static let list = pack("LIST")
        static let uidl = pack("UIDL")
        static let retr = pack("RETR")
        static let dele = pack("DELE")
        static let top = pack("TOP")
        static let lang = pack("LANG")

        static func pack(_ keyword: String) -> UInt32 {
            keyword.utf8.reduce(0) { $0 << 8 | UInt32($1) }
        }
    }

    private static let space = UInt8(ascii: " ")

    /// The parameters: ranges of the line, split at runs of spaces.
    private struct Parameters {
        var count = 0
        var first: Range<Int> = 0..<0
        var second: Range<Int> = 0..<0
    }

    func parse() throws -> Command {
        let count = self.bytes.count
        var keywordEnd = count
        for index in 0..<count {
            let byte = self.bytes[index]
            if byte < 0x20 || byte == 0x7F {
                throw POP3ParserError(hint: "control character in command")
            }
            if byte == Self.space, keywordEnd == count { keywordEnd = index }
        }
        // keyword = 3*4VCHAR; controls, DEL and space are already excluded.
        guard (3...4).contains(keywordEnd), !self.bytes[..<keywordEnd].contains(where: { $0 >= 0x80 }) else {
            throw POP3ParserError(hint: "invalid command keyword")
        }
        var keyword: UInt32 = 0
        for index in 0..<keywordEnd {
            let byte = self.bytes[index]
            let upper = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 0x20 : byte
            keyword = keyword << 8 | UInt32(upper)
        }
        let hasArgumentSeparator = keywordEnd < count
        let restStart = hasArgumentSeparator ? keywordEnd + 1 : count
        let parameters = self.splitParameters(from: restStart)

        func expectCount(_ range: ClosedRange<Int>) throws {
            guard range.contains(parameters.count) else {
                throw POP3ParserError(hint: "wrong number of arguments for \(self.keywordText(keywordEnd))")
            }
        }

        switch keyword {
        case Keyword.user:
            try expectCount(1...1)
            return .user(try self.utf8String(parameters.first, what: "user name"))
        case Keyword.pass:
            guard hasArgumentSeparator else { throw POP3ParserError(hint: "PASS needs an argument") }
            return .pass(Array(self.bytes[restStart..<count]))
        case Keyword.apop:
            try expectCount(2...2)
            return .apop(
                name: try self.utf8String(parameters.first, what: "user name"),
                digest: try self.utf8String(parameters.second, what: "digest")
            )
        case Keyword.auth:
            try expectCount(1...2)
            return .auth(
                mechanism: try self.mechanism(parameters.first),
                initialResponse: try parameters.count == 2 ? self.initialResponse(parameters.second) : nil
            )
        case Keyword.stls:
            try expectCount(0...0)
            return .stls
        case Keyword.capa:
            try expectCount(0...0)
            return .capa
        case Keyword.stat:
            try expectCount(0...0)
            return .stat
        case Keyword.noop:
            try expectCount(0...0)
            return .noop
        case Keyword.rset:
            try expectCount(0...0)
            return .rset
        case Keyword.quit:
            try expectCount(0...0)
            return .quit
        case Keyword.utf8:
            try expectCount(0...0)
            return .utf8
        case Keyword.list:
            try expectCount(0...1)
            return .list(parameters.count == 1 ? try self.messageNumber(parameters.first) : nil)
        case Keyword.uidl:
            try expectCount(0...1)
            return .uidl(parameters.count == 1 ? try self.messageNumber(parameters.first) : nil)
        case Keyword.retr:
            try expectCount(1...1)
            return .retr(try self.messageNumber(parameters.first))
        case Keyword.dele:
            try expectCount(1...1)
            return .dele(try self.messageNumber(parameters.first))
        case Keyword.top:
            try expectCount(2...2)
            return .top(try self.messageNumber(parameters.first), lines: try self.lineCount(parameters.second))
        case Keyword.lang:
            try expectCount(0...1)
            return .lang(parameters.count == 1 ? try self.utf8String(parameters.first, what: "language") : nil)
        default:
            return .unknown(keyword: self.keywordText(keywordEnd), arguments: self.allParameters(from: restStart))
        }
    }

    /// The keyword upper-cased, for hints and unknown commands.
    private func keywordText(_ end: Int) -> String {
        String(decoding: self.bytes[..<end], as: UTF8.self).uppercased()
    }

    /// Splits at runs of spaces; keeps the first two ranges and counts them all.
    private func splitParameters(from start: Int) -> Parameters {
        var parameters = Parameters()
        var index = start
        let count = self.bytes.count
        while index < count {
            while index < count, self.bytes[index] == Self.space { index += 1 }
            guard index < count else { break }
            let parameterStart = index
            while index < count, self.bytes[index] != Self.space { index += 1 }
            switch parameters.count {
            case 0: parameters.first = parameterStart..<index
            case 1: parameters.second = parameterStart..<index
            default: break
            }
            parameters.count += 1
        }
        return parameters
    }

    /// Every parameter as text (unknown commands only).
    private func allParameters(from start: Int) -> [String] {
        self.bytes[start...].split(separator: Self.space, omittingEmptySubsequences: true).map {
            String(decoding: $0, as: UTF8.self)
        }
    }

    private func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self.bytes[range])
    }

    private func utf8String(_ range: Range<Int>, what: String) throws -> String {
        guard let string = String(validating: self.slice(range), as: UTF8.self) else {
            throw POP3ParserError(hint: "\(what) is not valid UTF-8")
        }
        return string
    }

    /// A decimal number: digits only, no sign, at most `maximumDigits` digits.
    private func decimal(_ range: Range<Int>, maximumDigits: Int) -> Int? {
        guard !range.isEmpty, range.count <= maximumDigits else { return nil }
        var value = 0
        for byte in self.slice(range) {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// `msg = 1*DIGIT`, 1 to ``MessageNumber/maximum`` (RFC 1939 §5).
    private func messageNumber(_ range: Range<Int>) throws -> MessageNumber {
        guard let value = self.decimal(range, maximumDigits: 10), let number = MessageNumber(exactly: value) else {
            throw POP3ParserError(hint: "invalid message number")
        }
        return number
    }

    /// The line count of TOP: a non-negative number (RFC 1939 §7). Numbers past `Int32.max`
    /// mean "all lines"; more than 18 digits is refused.
    private func lineCount(_ range: Range<Int>) throws -> Int {
        guard let value = self.decimal(range, maximumDigits: 18) else {
            throw POP3ParserError(hint: "invalid line count")
        }
        return value
    }

    /// `sasl-mech = 1*20mech-char`, `mech-char = UPPER-ALPHA / DIGIT / "-" / "_"`
    /// (RFC 4422 §3.1); case-insensitive on input (RFC 5034 §5).
    private func mechanism(_ range: Range<Int>) throws -> String {
        let upper = self.slice(range).map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) ? $0 - 0x20 : $0 }
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
    private func initialResponse(_ range: Range<Int>) throws -> [UInt8] {
        let bytes = self.slice(range)
        if bytes.elementsEqual("=".utf8) { return [] }
        guard let decoded = Base64.decode(bytes: bytes), !decoded.isEmpty else {
            throw POP3ParserError(hint: "invalid base64 in initial response")
        }
        return decoded
    }
}
