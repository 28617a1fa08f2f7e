// Command lines to commands: what parses, what does not, and which reply each mistake gets.
import LMTPCore
import Testing

private func mailbox(_ local: String, _ domain: String?, _ address: String) -> Mailbox {
    Mailbox(localPart: local, domain: domain, address: address)
}

private func parse(_ line: String) throws(CommandSyntaxError) -> Command {
    try CommandParser.parse(bytes: Array(line.utf8))
}

private let validLines: [(String, Command)] = [
    ("LHLO mx.example.org", .lhlo("mx.example.org")),
    ("lhlo [127.0.0.1]", .lhlo("[127.0.0.1]")),
    ("EHLO x", .smtpHello(keyword: "EHLO")),
    ("MAIL FROM:<>", .mail(from: .null, parameters: MailParameters())),
    (
        "MAIL FROM:<bob@example.net>",
        .mail(from: .mailbox(mailbox("bob", "example.net", "bob@example.net")), parameters: MailParameters())
    ),
    (
        "mail from: <bob@example.net> SIZE=1234 BODY=8BITMIME ",
        .mail(
            from: .mailbox(mailbox("bob", "example.net", "bob@example.net")),
            parameters: MailParameters(size: 1234, body: .eightBitMIME)
        )
    ),
    (
        "MAIL FROM:<b@x> body=7bit",
        .mail(from: .mailbox(mailbox("b", "x", "b@x")), parameters: MailParameters(body: .sevenBit))
    ),
    ("RCPT TO:<alice@example.org>", .rcpt(to: mailbox("alice", "example.org", "alice@example.org"))),
    (
        "RCPT TO:<@relay.example,@b.example:alice@example.org>",
        .rcpt(to: mailbox("alice", "example.org", "alice@example.org"))
    ),
    ("RCPT TO:<\"john doe\"@example.org>", .rcpt(to: mailbox("john doe", "example.org", "\"john doe\"@example.org"))),
    ("RCPT TO:<\"a\\\"b\"@x>", .rcpt(to: mailbox("a\"b", "x", "\"a\\\"b\"@x"))),
    ("RCPT TO:<Postmaster>", .rcpt(to: mailbox("Postmaster", nil, "Postmaster"))),
    ("RCPT TO:<a+tag@[192.0.2.1]>", .rcpt(to: mailbox("a+tag", "[192.0.2.1]", "a+tag@[192.0.2.1]"))),
    (
        "RCPT TO:<o'neil.x_y@sub-d.example_x.org>",
        .rcpt(to: mailbox("o'neil.x_y", "sub-d.example_x.org", "o'neil.x_y@sub-d.example_x.org"))
    ),
    ("DATA", .data),
    ("data ", .data),
    ("RSET", .rset),
    ("QUIT", .quit),
    ("NOOP anything at all", .noop),
    ("VRFY alice", .vrfy),
    ("EXPN staff", .expn),
    ("HELP", .help),
    ("BDAT 100 LAST", .unknown(keyword: "BDAT")),
    ("STARTTLS", .unknown(keyword: "STARTTLS")),
    ("X\u{E9}Y", .unknown(keyword: "")),
]

private let invalidLines: [(String, CommandSyntaxError.Kind)] = [
    ("LHLO", .syntax),
    ("LHLO a b", .syntax),
    ("MAIL", .syntax),
    ("MAIL TO:<a@b>", .syntax),
    ("MAIL FROM:a@b", .badSender),
    ("MAIL FROM:<a@b", .badSender),
    ("MAIL FROM:<a@@b>", .badSender),
    ("MAIL FROM:<a@b..c>", .badSender),
    ("MAIL FROM:<.a@b>", .badSender),
    ("MAIL FROM:<a\u{E9}@b>", .badSender),
    ("MAIL FROM:<a@b> SIZE=", .syntax),
    ("MAIL FROM:<a@b> SIZE=12x", .syntax),
    ("MAIL FROM:<a@b> SIZE=1 SIZE=2", .syntax),
    ("MAIL FROM:<a@b> =x", .syntax),
    ("MAIL FROM:<a@b> BODY=BINARYMIME", .unsupportedParameter),
    ("MAIL FROM:<a@b> SMTPUTF8", .unsupportedParameter),
    ("MAIL FROM:<a@b> RET=FULL", .unsupportedParameter),
    ("RCPT TO:<>", .badRecipient),
    ("RCPT TO:<\"open@x>", .badRecipient),
    ("RCPT TO:<a@[]>", .badRecipient),
    ("RCPT TO:<a@b> NOTIFY=NEVER", .unsupportedParameter),
    ("RSET now", .syntax),
    ("QUIT x", .syntax),
    ("NOOP\u{0}", .invalidCharacter),
    ("RCPT TO:<a\u{7F}@b>", .invalidCharacter),
]

@Suite("CommandParser")
struct CommandParserTests {
    @Test("valid lines", arguments: validLines)
    func valid(_ line: String, _ command: Command) throws {
        #expect(try parse(line) == command)
    }

    @Test("invalid lines", arguments: invalidLines)
    func invalid(_ line: String, _ kind: CommandSyntaxError.Kind) {
        #expect(throws: CommandSyntaxError.self) { try parse(line) }
        do {
            _ = try parse(line)
        } catch {
            #expect(error.kind == kind)
        }
    }

    @Test("the reverse path as Return-Path writes it")
    func reversePathDescription() throws {
        #expect(ReversePath.null.description == "<>")
        guard case .mail(let from, _) = try parse("MAIL FROM:<@r.example:bob@example.net>") else {
            Issue.record("not a MAIL command")
            return
        }
        #expect(from.description == "<bob@example.net>")
    }

    @Test("the accounts a recipient may belong to, in order")
    func candidates() {
        #expect(
            mailbox("Alice", "Example.org", "Alice@Example.org").candidateUsers == [
                "Alice@Example.org", "Alice", "alice@example.org", "alice",
            ]
        )
        #expect(mailbox("bob", "x", "bob@x").candidateUsers == ["bob@x", "bob"])
        #expect(mailbox("postmaster", nil, "postmaster").candidateUsers == ["postmaster"])
    }
}
