// Reference models for differential tests: the earlier, byte-at-a-time forms of the dot-stuffing
// encoder and the command grammar, kept as the specification the fast forms must match.
import MailCore
import NIOCore
import POP3Core

/// The dot-stuffing encoder as first written: one byte at a time. The production encoder
/// must give the same bytes and the same octet count for every input and every chunking.
struct ReferenceDotStuffingEncoder {
    private var atLineStart = true
    private var sawCR = false
    private var lineIsBlank = true
    private var inHeader = true
    private var remainingBodyLines: Int?
    private var finished = false
    private(set) var messageOctets = 0
    private(set) var isComplete = false

    init(bodyLineLimit: Int? = nil) {
        self.remainingBodyLines = bodyLineLimit.map { max(0, $0) }
    }

    mutating func encode(_ input: [UInt8], into output: inout [UInt8]) {
        guard !self.isComplete, !self.finished else { return }
        var index = 0
        while index < input.count {
            let byte = input[index]
            if self.sawCR {
                self.sawCR = false
                if byte == UInt8(ascii: "\n") {
                    output.append(byte)
                    self.messageOctets += 1
                    index += 1
                    if self.lineEnded() { return }
                    continue
                }
            }
            switch byte {
            case UInt8(ascii: "\n"):
                output += [0x0D, 0x0A]
                self.messageOctets += 2
                index += 1
                if self.lineEnded() { return }
                continue
            case UInt8(ascii: "\r"):
                self.sawCR = true
                self.atLineStart = false
            case UInt8(ascii: ".") where self.atLineStart:
                output.append(UInt8(ascii: "."))
                self.atLineStart = false
                self.lineIsBlank = false
            default:
                self.atLineStart = false
                self.lineIsBlank = false
            }
            output.append(byte)
            self.messageOctets += 1
            index += 1
        }
    }

    private mutating func lineEnded() -> Bool {
        let wasBlank = self.lineIsBlank
        self.atLineStart = true
        self.lineIsBlank = true
        guard let remaining = self.remainingBodyLines else { return false }
        if self.inHeader {
            if wasBlank {
                self.inHeader = false
                if remaining == 0 { self.isComplete = true }
            }
        } else {
            self.remainingBodyLines = remaining - 1
            if remaining - 1 <= 0 { self.isComplete = true }
        }
        return self.isComplete
    }

    mutating func finish(into output: inout [UInt8]) {
        guard !self.finished else { return }
        self.finished = true
        if self.sawCR {
            output.append(0x0A)
        } else if !self.atLineStart {
            output += [0x0D, 0x0A]
        }
        output += Array(".\r\n".utf8)
    }
}

/// The command grammar as first written, over `String`s and arrays. The production parser
/// must return the same command, or fail with the same hint, for every line.
enum ReferenceCommandParser {
    static func parseCommand(_ bytes: [UInt8]) throws -> Command {
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

    private static func parseDecimal(_ bytes: ArraySlice<UInt8>, maximumDigits: Int) -> Int? {
        guard !bytes.isEmpty, bytes.count <= maximumDigits else { return nil }
        var value = 0
        for byte in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static func parseMessageNumber(_ bytes: ArraySlice<UInt8>) throws -> MessageNumber {
        guard let value = parseDecimal(bytes, maximumDigits: 10), let number = MessageNumber(exactly: value) else {
            throw POP3ParserError(hint: "invalid message number")
        }
        return number
    }

    private static func parseLineCount(_ bytes: ArraySlice<UInt8>) throws -> Int {
        guard let value = parseDecimal(bytes, maximumDigits: 18) else {
            throw POP3ParserError(hint: "invalid line count")
        }
        return value
    }

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

    private static func parseInitialResponse(_ bytes: ArraySlice<UInt8>) throws -> [UInt8] {
        if bytes.elementsEqual("=".utf8) { return [] }
        guard let decoded = Base64.decode(bytes: bytes), !decoded.isEmpty else {
            throw POP3ParserError(hint: "invalid base64 in initial response")
        }
        return decoded
    }
}
