import MailCore
import NIOCore
import POP3Core
import Testing

/// A wire form with control pictures, for readable fixture names.
private func picture(_ text: String) -> String {
    String(
        text.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "\r": return "␍"
            case "\n": return "␊"
            case "\0": return "␀"
            default: return Character(scalar)
            }
        }
    )
}

struct CommandFixture: CustomTestStringConvertible, Sendable {
    enum Expected: Sendable {
        case success(Command)
        case failure
    }
    var wire: [UInt8]
    var expected: Expected
    var testDescription: String { picture(String(decoding: wire, as: UTF8.self)) }

    static func ok(_ wire: String, _ command: Command) -> CommandFixture {
        CommandFixture(wire: Array(wire.utf8), expected: .success(command))
    }
    static func bad(_ wire: String) -> CommandFixture {
        CommandFixture(wire: Array(wire.utf8), expected: .failure)
    }
    static func bad(bytes: [UInt8]) -> CommandFixture {
        CommandFixture(wire: bytes, expected: .failure)
    }
}

@Suite("CommandParser")
struct CommandParserTests {
    static let fixtures: [CommandFixture] = [
        .ok("USER alice\r\n", .user("alice")),
        .ok("user alice\r\n", .user("alice")),
        .ok("USER  alice \r\n", .user("alice")),
        .ok("USER jörg\r\n", .user("jörg")),
        .ok("PASS secret\r\n", .pass(Array("secret".utf8))),
        .ok("PASS  two words \r\n", .pass(Array(" two words ".utf8))),
        .ok("PASS \r\n", .pass([])),
        .ok(
            "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
            .apop(name: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb")
        ),
        .ok("AUTH PLAIN\r\n", .auth(mechanism: "PLAIN", initialResponse: nil)),
        .ok("auth plain =\r\n", .auth(mechanism: "PLAIN", initialResponse: [])),
        .ok(
            "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
            .auth(mechanism: "PLAIN", initialResponse: Array("\0alice\0secret".utf8))
        ),
        .ok("AUTH SCRAM-SHA-256\r\n", .auth(mechanism: "SCRAM-SHA-256", initialResponse: nil)),
        .ok("STLS\r\n", .stls),
        .ok("CAPA\r\n", .capa),
        .ok("STAT\r\n", .stat),
        .ok("stat\n", .stat),
        .ok("LIST\r\n", .list(nil)),
        .ok("LIST 2\r\n", .list(2)),
        .ok("UIDL\r\n", .uidl(nil)),
        .ok("UIDL 7\r\n", .uidl(7)),
        .ok("RETR 1\r\n", .retr(1)),
        .ok("RETR 2147483647\r\n", .retr(MessageNumber(exactly: 2_147_483_647)!)),
        .ok("TOP 1 10\r\n", .top(1, lines: 10)),
        .ok("TOP 1 0\r\n", .top(1, lines: 0)),
        .ok("TOP 1 2147483648\r\n", .top(1, lines: 2_147_483_648)),
        .ok("DELE 3\r\n", .dele(3)),
        .ok("NOOP\r\n", .noop),
        .ok("RSET\r\n", .rset),
        .ok("QUIT\r\n", .quit),
        .ok("QUIT \r\n", .quit),
        .ok("UTF8\r\n", .utf8),
        .ok("LANG\r\n", .lang(nil)),
        .ok("LANG en\r\n", .lang("en")),
        .ok("XTND XMIT\r\n", .unknown(keyword: "XTND", arguments: ["XMIT"])),
        .ok("FOO\r\n", .unknown(keyword: "FOO", arguments: [])),
        .bad("\r\n"),
        .bad("NO\r\n"),
        .bad("LONGER\r\n"),
        .bad(" STAT\r\n"),
        .bad("USER\r\n"),
        .bad("USER a b\r\n"),
        .bad("PASS\r\n"),
        .bad("APOP mrose\r\n"),
        .bad("AUTH\r\n"),
        .bad("AUTH PLAIN %%%%\r\n"),
        .bad("AUTH PLAIN abc\r\n"),
        .bad("AUTH PL@IN\r\n"),
        .bad("AUTH ABCDEFGHIJKLMNOPQRSTU\r\n"),
        .bad("STAT 1\r\n"),
        .bad("LIST 0\r\n"),
        .bad("LIST -1\r\n"),
        .bad("LIST +1\r\n"),
        .bad("LIST 1 2\r\n"),
        .bad("RETR\r\n"),
        .bad("RETR x\r\n"),
        .bad("RETR 2147483648\r\n"),
        .bad("RETR 99999999999999999999999\r\n"),
        .bad("DELE 0\r\n"),
        .bad("TOP 1\r\n"),
        .bad("TOP 1 -1\r\n"),
        .bad("TOP 0 1\r\n"),
        .bad("TOP 1 9999999999999999999\r\n"),
        .bad(bytes: Array("USER a\0b\r\n".utf8)),
        .bad(bytes: Array("PASS a\0b\r\n".utf8)),
        .bad(bytes: Array("USER ".utf8) + [0xFF, 0xFE] + Array("\r\n".utf8)),
        .bad(bytes: Array("NO\tOP\r\n".utf8)),
    ]

    @Test(arguments: fixtures)
    func wholeLine(_ fixture: CommandFixture) throws {
        var parser = CommandParser()
        var buffer = ByteBuffer(bytes: fixture.wire + Array("NOOP\r\n".utf8))
        switch fixture.expected {
        case .success(let command):
            #expect(try parser.parseClientLine(buffer: &buffer, expecting: .command) == .command(command))
        case .failure:
            #expect(throws: (any Error).self) { try parser.parseClientLine(buffer: &buffer, expecting: .command) }
        }
        // Parsing stops at the terminator, success or not, and the session goes on.
        #expect(buffer.readableBytesView.elementsEqual("NOOP\r\n".utf8))
        #expect(try parser.parseClientLine(buffer: &buffer, expecting: .command) == .command(.noop))
    }

    @Test(arguments: fixtures)
    func dripFed(_ fixture: CommandFixture) throws {
        var parser = CommandParser()
        var buffer = ByteBuffer()
        for (offset, byte) in fixture.wire.enumerated() {
            buffer.writeInteger(byte)
            if offset < fixture.wire.count - 1 {
                let before = buffer
                #expect(try parser.parseClientLine(buffer: &buffer, expecting: .command) == nil)
                #expect(buffer == before, "need-more must consume nothing")
            }
        }
        switch fixture.expected {
        case .success(let command):
            #expect(try parser.parseClientLine(buffer: &buffer, expecting: .command) == .command(command))
        case .failure:
            #expect(throws: (any Error).self) { try parser.parseClientLine(buffer: &buffer, expecting: .command) }
        }
        #expect(buffer.readableBytes == 0)
    }

    @Test func commandLineLimitIsRFC2449() throws {
        var parser = CommandParser()
        let longest = "USER " + String(repeating: "a", count: 255 - 7) + "\r\n"
        #expect(longest.utf8.count == 255)
        var buffer = ByteBuffer(string: longest)
        #expect(
            try parser.parseClientLine(buffer: &buffer, expecting: .command)
                == .command(.user(String(repeating: "a", count: 248)))
        )
        buffer = ByteBuffer(string: "USER " + String(repeating: "a", count: 249) + "\r\nNOOP\r\n")
        #expect(throws: ExceededLineLengthLimit.self) {
            try parser.parseClientLine(buffer: &buffer, expecting: .command)
        }
        #expect(try parser.parseClientLine(buffer: &buffer, expecting: .command) == .command(.noop))
    }

    @Test func overlongLineIsReportedOnceAndSkipped() throws {
        var parser = CommandParser()
        var buffer = ByteBuffer(repeating: UInt8(ascii: "A"), count: 20000)
        #expect(throws: ExceededLineLengthLimit.self) {
            try parser.parseClientLine(buffer: &buffer, expecting: .command)
        }
        #expect(buffer.readableBytes == 0)
        buffer.writeRepeatingByte(UInt8(ascii: "B"), count: 50000)
        #expect(try parser.parseClientLine(buffer: &buffer, expecting: .command) == nil)
        #expect(buffer.readableBytes == 0, "the tail of an overlong line is not buffered")
        buffer.writeString("BBB\r\nSTAT\r\n")
        #expect(try parser.parseClientLine(buffer: &buffer, expecting: .command) == .command(.stat))
    }

    @Test func saslResponses() throws {
        var parser = CommandParser()
        var buffer = ByteBuffer(string: "dGVzdA==\r\n\r\n*\r\n!!\r\nQUIT\r\n")
        #expect(
            try parser.parseClientLine(buffer: &buffer, expecting: .saslResponse) == .saslResponse(Array("test".utf8))
        )
        #expect(try parser.parseClientLine(buffer: &buffer, expecting: .saslResponse) == .saslResponse([]))
        #expect(try parser.parseClientLine(buffer: &buffer, expecting: .saslResponse) == .saslCancel)
        #expect(throws: POP3ParserError.self) { try parser.parseClientLine(buffer: &buffer, expecting: .saslResponse) }
        #expect(try parser.parseClientLine(buffer: &buffer, expecting: .command) == .command(.quit))
    }

    @Test func saslResponseLinesMayExceedTheCommandLimit() throws {
        var parser = CommandParser()
        let token = Base64.encode([UInt8](repeating: 0x41, count: 3000))
        var buffer = ByteBuffer(string: token + "\r\n")
        #expect(
            try parser.parseClientLine(buffer: &buffer, expecting: .saslResponse)
                == .saslResponse([UInt8](repeating: 0x41, count: 3000))
        )
        buffer = ByteBuffer(string: token + "\r\n")
        #expect(throws: ExceededLineLengthLimit.self) {
            try parser.parseClientLine(buffer: &buffer, expecting: .command)
        }
    }
}
