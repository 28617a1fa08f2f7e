import NIOCore
import POP3Core
import PropertyBased
import Testing

/// The byte-level command parser against the String-based reference (ReferenceModels.swift):
/// for every line, the same command or the same error hint.
@Suite("CommandParser against its reference")
struct CommandParserReferenceTests {
    /// Words lines are made of: every keyword in several cases, near misses, numbers at and
    /// past the limits, base64, 8-bit and control bytes, and runs of spaces.
    static let words: [[UInt8]] =
        [
            "USER", "user", "PASS", "pAsS", "APOP", "AUTH", "auth", "STLS", "CAPA", "STAT", "NOOP", "noop", "RSET",
            "QUIT",
            "UTF8", "LIST", "UIDL", "RETR", "DELE", "TOP", "top", "LANG", "XTND", "FOO", "NO", "LONGER", "TOPS", "ÜSER",
            "1", "2", "0", "-1", "+1", "2147483647", "2147483648", "99999999999999999999", "007", "x", "alice", "jörg",
            "PLAIN", "plain", "SCRAM-SHA-256", "PL@IN", "ABCDEFGHIJKLMNOPQRSTU", "=", "AGFsaWNlAHNlY3JldA==", "%%%%",
            "abc", "c4c9334bac560ecc979e58001b3e22fb", "en", " ", "  ", "\t", "\u{7F}", "*",
        ].map { Array($0.utf8) } + [[0xFF, 0xFE], [0x00], [0xC3], [0x80, 0x41]]

    static func check(_ line: [UInt8]) {
        let reference = Result { try ReferenceCommandParser.parseCommand(line) }
        let parsed = Result { try CommandParser.parseCommand(line: ByteBuffer(bytes: line)) }
        switch (reference, parsed) {
        case (.success(let expected), .success(let command)):
            #expect(command == expected, "\(String(decoding: line, as: UTF8.self))")
        case (.failure(let expected as POP3ParserError), .failure(let error as POP3ParserError)):
            #expect(error.hint == expected.hint, "\(String(decoding: line, as: UTF8.self))")
        default:
            Issue.record("\(String(decoding: line, as: UTF8.self)): reference \(reference), parser \(parsed)")
        }
    }

    @Test func sameOutcomeForRandomLines() async {
        await propertyCheck(
            count: 2000,
            input: Gen.int(in: 0...(Self.words.count - 1)).array(of: 0...5),
            Gen.int(in: 0...3).array(of: 0...5)
        ) { indices, gaps in
            var line: [UInt8] = []
            for (position, index) in indices.enumerated() {
                if position > 0 {
                    let gap = position - 1 < gaps.count ? gaps[position - 1] : 1
                    line += Array(repeating: UInt8(ascii: " "), count: gap)
                }
                line += Self.words[index]
            }
            if gaps.first == 3 { line += [UInt8(ascii: " ")] }
            Self.check(line)
        }
    }

    @Test func sameOutcomeForTheFixtureLines() {
        for fixture in CommandParserTests.fixtures {
            var line = fixture.wire
            while let last = line.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { line.removeLast() }
            Self.check(line)
        }
    }
}
