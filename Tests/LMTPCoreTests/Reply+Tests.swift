// Replies on the wire (RFC 5321 §4.2.1, RFC 2034 §3) and the stored form of a message.
import LMTPCore
import NIOCore
import Testing

@Suite("Reply and DeliveredMessage")
struct ReplyTests {
    @Test("single and multi-line replies, with and without an enhanced code")
    func encoding() {
        #expect(Reply(250, .ok, "OK").description == "250 2.0.0 OK\r\n")
        #expect(Reply(354, nil, "go ahead").description == "354 go ahead\r\n")
        #expect(Reply(250, nil, lines: ["a", "b", "c"]).description == "250-a\r\n250-b\r\n250 c\r\n")
        #expect(Reply(550, .badDestinationMailbox, lines: ["x", "y"]).description == "550-5.1.1 x\r\n550 5.1.1 y\r\n")
    }

    @Test("a CR or LF in a reply's text cannot split it")
    func noInjection() {
        #expect(Reply(250, .ok, "a\r\n250 b").description == "250 2.0.0 a  250 b\r\n")
    }

    @Test("Return-Path and Delivered-To on top, CRLF turned into LF, lone CR and LF kept")
    func deliveredMessage() {
        let request = LMTPServerSession.DeliveryRequest(
            user: "alice",
            recipient: Mailbox(localPart: "alice", domain: "example.org", address: "alice@example.org"),
            reversePath: .mailbox(Mailbox(localPart: "bob", domain: "example.net", address: "bob@example.net")),
            message: ByteBuffer(string: "Subject: hi\r\n\r\nline\rwith CR\nand LF\r\nlast\r\n")
        )
        #expect(
            String(decoding: DeliveredMessage.bytes(for: request), as: UTF8.self)
                == "Return-Path: <bob@example.net>\nDelivered-To: alice@example.org\nSubject: hi\n\nline\rwith CR\nand LF\nlast\n"
        )
        var bounce = request
        bounce.reversePath = .null
        bounce.message = ByteBuffer(string: "x\r")
        #expect(
            String(decoding: DeliveredMessage.bytes(for: bounce), as: UTF8.self)
                == "Return-Path: <>\nDelivered-To: alice@example.org\nx\r"
        )
    }
}
