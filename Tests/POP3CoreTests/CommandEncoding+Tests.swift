import MailCore
import NIOCore
import POP3Core
import Testing

@Suite("Command encoding")
struct CommandEncodingTests {
    static let commands: [Command] = [
        .user("alice"), .pass(Array("pa ss word ".utf8)), .pass([]),
        .apop(name: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb"),
        .auth(mechanism: "PLAIN", initialResponse: nil), .auth(mechanism: "PLAIN", initialResponse: []),
        .auth(mechanism: "PLAIN", initialResponse: Array("\0alice\0secret".utf8)),
        .stls, .capa, .stat, .list(nil), .list(9), .uidl(nil), .uidl(1), .retr(3), .top(4, lines: 0),
        .top(4, lines: 2_147_483_648), .dele(5), .noop, .rset, .quit, .utf8, .lang(nil), .lang("de"),
        .unknown(keyword: "XTND", arguments: ["XMIT", "1"]),
    ]

    @Test(arguments: commands)
    func roundTrip(_ command: Command) throws {
        var buffer = ByteBuffer()
        let written = buffer.writePOP3Command(command)
        #expect(written == buffer.readableBytes)
        #expect(command.encodedBytes == Array(buffer.readableBytesView))
        var parser = CommandParser()
        #expect(try parser.parseClientLine(buffer: &buffer, expecting: .command) == .command(command))
        #expect(buffer.readableBytes == 0)
    }

    @Test func exactBytes() {
        #expect(Command.top(1, lines: 10).encodedBytes == Array("TOP 1 10\r\n".utf8))
        #expect(Command.auth(mechanism: "PLAIN", initialResponse: []).encodedBytes == Array("AUTH PLAIN =\r\n".utf8))
        var buffer = ByteBuffer()
        buffer.writePOP3ClientLine(.saslResponse([]))
        buffer.writePOP3ClientLine(.saslCancel)
        buffer.writePOP3ClientLine(.saslResponse(Array("test".utf8)))
        #expect(String(buffer: buffer) == "\r\n*\r\ndGVzdA==\r\n")
    }

    @Test func redactedDescriptions() {
        #expect(Command.pass(Array("hunter2".utf8)).descriptionWithoutPII == "PASS *** [7 bytes]")
        #expect(!Command.apop(name: "a", digest: "d1g35t").descriptionWithoutPII.contains("d1g35t"))
        #expect(
            Command.auth(mechanism: "PLAIN", initialResponse: [1, 2, 3]).descriptionWithoutPII == "AUTH PLAIN [3 bytes]"
        )
        #expect(Command.retr(2).descriptionWithoutPII == "RETR 2")
        #expect(ClientLine.saslResponse(Array("secret".utf8)).descriptionWithoutPII == "[SASL response, 6 bytes]")
    }
}
