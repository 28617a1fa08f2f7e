// LMTPCore: command lines to `Command` values (RFC 5321 §4.1, RFC 2033 §4).
public import struct NIOCore.ByteBuffer

/// Parses one command line (without its CRLF) into a ``Command``.
///
/// The grammar is RFC 5321's, with the leniency real clients need: keywords in any case,
/// spaces after `FROM:`/`TO:` and at the end of the line tolerated. Addresses are ASCII
/// (SMTPUTF8 is not offered); NUL and other control characters are refused outright.
public enum CommandParser {
    /// Parses `line`; throws ``CommandSyntaxError`` when it does not follow the grammar.
    public static func parse(line: ByteBuffer) throws(CommandSyntaxError) -> Command {
        try parse(bytes: Array(line.readableBytesView))
    }

    /// Parses a line given as bytes.
    public static func parse(bytes: [UInt8]) throws(CommandSyntaxError) -> Command {
        // RFC 5321 §4.1.1: commands are ASCII; a control character is never part of one.
        for byte in bytes where byte < 0x20 && byte != UInt8(ascii: "\t") || byte == 0x7F {
            throw CommandSyntaxError(.invalidCharacter, "control character in command")
        }
        var cursor = Cursor(bytes)
        let keyword = cursor.readWhile { $0 != UInt8(ascii: " ") }.uppercasedASCII
        switch keyword {
        case "LHLO":
            cursor.skipSpaces()
            let domain = cursor.readWhile { $0 != UInt8(ascii: " ") }
            cursor.skipSpaces()
            guard !domain.isEmpty, cursor.isAtEnd else {
                throw CommandSyntaxError(.syntax, "syntax: LHLO hostname")
            }
            return .lhlo(String(decoding: domain, as: UTF8.self))
        case "HELO", "EHLO":
            return .smtpHello(keyword: keyword)
        case "MAIL":
            try cursor.expectPrefix(" FROM:", else: CommandSyntaxError(.syntax, "syntax: MAIL FROM:<address>"))
            cursor.skipSpaces()
            let path = try parsePath(&cursor, allowNull: true, kind: .badSender)
            let parameters = try parseMailParameters(&cursor)
            return .mail(from: path.map(ReversePath.mailbox) ?? .null, parameters: parameters)
        case "RCPT":
            try cursor.expectPrefix(" TO:", else: CommandSyntaxError(.syntax, "syntax: RCPT TO:<address>"))
            cursor.skipSpaces()
            // safe: allowNull false never yields nil.
            let mailbox = try parsePath(&cursor, allowNull: false, kind: .badRecipient)!
            cursor.skipSpaces()
            guard cursor.isAtEnd else {
                throw CommandSyntaxError(.unsupportedParameter, "RCPT parameters are not supported")
            }
            return .rcpt(to: mailbox)
        case "DATA", "RSET", "QUIT":
            cursor.skipSpaces()
            guard cursor.isAtEnd else { throw CommandSyntaxError(.syntax, "syntax: \(keyword) takes no argument") }
            return keyword == "DATA" ? .data : keyword == "RSET" ? .rset : .quit
        case "NOOP":
            return .noop
        case "VRFY":
            return .vrfy
        case "EXPN":
            return .expn
        case "HELP":
            return .help
        default:
            // Echo only a short, printable keyword.
            let shown = keyword.count <= 16 && keyword.allSatisfy { $0.isASCII && $0.isLetter } ? keyword : ""
            return .unknown(keyword: shown)
        }
    }

    /// `Path = "<" [ A-d-l ":" ] Mailbox ">"`, or `<>` when `allowNull` (RFC 5321 §4.1.2).
    /// Returns nil for the null path.
    static func parsePath(
        _ cursor: inout Cursor,
        allowNull: Bool,
        kind: CommandSyntaxError.Kind
    ) throws(CommandSyntaxError) -> Mailbox? {
        let error = CommandSyntaxError(
            kind,
            kind == .badSender ? "bad sender address syntax" : "bad recipient address syntax"
        )
        guard cursor.take(UInt8(ascii: "<")) else { throw error }
        if cursor.take(UInt8(ascii: ">")) {
            guard allowNull else { throw error }
            return nil
        }
        // A source route is accepted and ignored (RFC 5321 §4.1.2 and appendix C).
        if cursor.peek == UInt8(ascii: "@") {
            _ = cursor.readWhile { $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: ">") }
            guard cursor.take(UInt8(ascii: ":")) else { throw error }
        }
        let start = cursor.index
        let localPart: String
        if cursor.peek == UInt8(ascii: "\"") {
            guard let quoted = parseQuotedString(&cursor) else { throw error }
            localPart = quoted
        } else {
            let dotString = cursor.readWhile(isAtext(_:))
            guard isDotString(dotString) else { throw error }
            localPart = String(decoding: dotString, as: UTF8.self)
        }
        var domain: String?
        if cursor.take(UInt8(ascii: "@")) {
            let domainBytes: ArraySlice<UInt8>
            if cursor.peek == UInt8(ascii: "[") {
                domainBytes = cursor.readWhile { $0 != UInt8(ascii: "]") && $0 != UInt8(ascii: ">") }
                guard cursor.take(UInt8(ascii: "]")), isAddressLiteralContent(domainBytes.dropFirst()) else {
                    throw error
                }
                domain = String(decoding: domainBytes, as: UTF8.self) + "]"
            } else {
                domainBytes = cursor.readWhile { $0 != UInt8(ascii: ">") }
                guard isDomain(domainBytes) else { throw error }
                domain = String(decoding: domainBytes, as: UTF8.self)
            }
        }
        let address = String(decoding: cursor.bytes[start..<cursor.index], as: UTF8.self)
        guard cursor.take(UInt8(ascii: ">")) else { throw error }
        guard domain != nil || !localPart.isEmpty else { throw error }
        return Mailbox(localPart: localPart, domain: domain, address: address)
    }

    /// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE` (RFC 5321 §4.1.2); the content unquoted.
    static func parseQuotedString(_ cursor: inout Cursor) -> String? {
        guard cursor.take(UInt8(ascii: "\"")) else { return nil }
        var content: [UInt8] = []
        while let byte = cursor.next() {
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: content, as: UTF8.self)
            case UInt8(ascii: "\\"):
                // quoted-pairSMTP = %d92 %d32-126
                guard let escaped = cursor.next(), (32...126).contains(escaped) else { return nil }
                content.append(escaped)
            case 32...126:
                content.append(byte)
            default:
                return nil
            }
        }
        return nil
    }

    /// `Mail-parameters = esmtp-param *(SP esmtp-param)` (RFC 5321 §4.1.2), of which we take
    /// SIZE (RFC 1870 §6) and BODY (RFC 6152 §2).
    static func parseMailParameters(_ cursor: inout Cursor) throws(CommandSyntaxError) -> MailParameters {
        var parameters = MailParameters()
        var seen: Set<String> = []
        while true {
            cursor.skipSpaces()
            if cursor.isAtEnd { return parameters }
            let parameter = cursor.readWhile { $0 != UInt8(ascii: " ") }
            let equals = parameter.firstIndex(of: UInt8(ascii: "="))
            let keyword = parameter[..<(equals ?? parameter.endIndex)].uppercasedASCII
            let value = equals.map { parameter[($0 + 1)...] }
            guard !keyword.isEmpty, keyword.utf8.allSatisfy({ isAlphaDigit($0) || $0 == UInt8(ascii: "-") }) else {
                throw CommandSyntaxError(.syntax, "syntax: bad MAIL parameter")
            }
            guard seen.insert(keyword).inserted else {
                throw CommandSyntaxError(.syntax, "syntax: \(keyword) given twice")
            }
            switch keyword {
            case "SIZE":
                // size-value = 1*20DIGIT (RFC 1870 §6); a value too large for Int is surely too big.
                guard let value, !value.isEmpty, value.count <= 20, value.allSatisfy(isDigit(_:)) else {
                    throw CommandSyntaxError(.syntax, "syntax: SIZE=octets")
                }
                parameters.size = Int(String(decoding: value, as: UTF8.self)) ?? Int.max
            case "BODY":
                switch value.map({ $0.uppercasedASCII }) {
                case "7BIT": parameters.body = .sevenBit
                case "8BITMIME": parameters.body = .eightBitMIME
                default: throw CommandSyntaxError(.unsupportedParameter, "BODY=7BIT or BODY=8BITMIME only")
                }
            default:
                throw CommandSyntaxError(.unsupportedParameter, "MAIL parameter \(keyword) is not supported")
            }
        }
    }

    // MARK: Character classes (RFC 5321 §4.1.2, RFC 5322 §3.2.3)

    static func isAlphaDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || isDigit(byte)
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// `atext` (RFC 5322 §3.2.3) plus ".", so a Dot-string is read in one run.
    static func isAtext(_ byte: UInt8) -> Bool {
        if isAlphaDigit(byte) { return true }
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"),
            UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
            UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    /// `Dot-string = Atom *("." Atom)`: no empty atom.
    static func isDotString(_ bytes: ArraySlice<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.first != UInt8(ascii: ".") && bytes.last != UInt8(ascii: ".")
            && !zip(bytes, bytes.dropFirst()).contains { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") }
    }

    /// `Domain = sub-domain *("." sub-domain)`, each label letters, digits, hyphens (and the
    /// underscores real names carry), not empty.
    static func isDomain(_ bytes: ArraySlice<UInt8>) -> Bool {
        let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return !bytes.isEmpty && bytes.count <= 255
            && labels.allSatisfy { label in
                !label.isEmpty
                    && label.allSatisfy { isAlphaDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
            }
    }

    /// The inside of an address literal: `dcontent = %d33-90 / %d94-126` (RFC 5321 §4.1.3).
    static func isAddressLiteralContent(_ bytes: ArraySlice<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { (33...90).contains($0) || (94...126).contains($0) }
    }
}

/// A read position in a command line.
struct Cursor {
    let bytes: [UInt8]
    var index: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.index = 0
    }

    var isAtEnd: Bool { index == bytes.count }
    var peek: UInt8? { isAtEnd ? nil : bytes[index] }

    mutating func next() -> UInt8? {
        guard let byte = peek else { return nil }
        index += 1
        return byte
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    mutating func readWhile(_ predicate: (UInt8) -> Bool) -> ArraySlice<UInt8> {
        let start = index
        while let byte = peek, predicate(byte) { index += 1 }
        return bytes[start..<index]
    }

    mutating func skipSpaces() {
        while peek == UInt8(ascii: " ") || peek == UInt8(ascii: "\t") { index += 1 }
    }

    /// Consumes `prefix` (ASCII, compared case-insensitively) or throws `error`.
    mutating func expectPrefix(_ prefix: String, else error: CommandSyntaxError) throws(CommandSyntaxError) {
        let expected = Array(prefix.utf8)
        guard bytes.count - index >= expected.count,
            zip(bytes[index...], expected).allSatisfy({ lowercase($0) == lowercase($1) })
        else { throw error }
        index += expected.count
    }

    private func lowercase(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}

extension ArraySlice<UInt8> {
    /// The bytes as a string with ASCII letters upper-cased (other bytes as they decode).
    var uppercasedASCII: String {
        String(
            decoding: self.map { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) ? $0 & ~0x20 : $0 },
            as: UTF8.self
        )
    }
}
