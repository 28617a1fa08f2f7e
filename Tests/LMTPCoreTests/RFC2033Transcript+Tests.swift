// RFC 2033 §4.2's example and pipelined variants, through the pure session, whole and drip-fed.
import LMTPCore
import Testing

@Suite("RFC 2033 transcripts")
struct RFC2033TranscriptTests {
    /// RFC 2033 §4.2, with our reply texts: pat is delivered, jones is unknown, green's
    /// mailbox is over quota (a temporary failure after the final ".").
    static let client = crlf(
        "LHLO foo.edu",
        "MAIL FROM:<chris@bar.com>",
        "RCPT TO:<pat@foo.edu>",
        "RCPT TO:<jones@foo.edu>",
        "RCPT TO:<green@foo.edu>",
        "DATA",
        "Blah blah blah...",
        "...etc. etc. etc.",
        ".",
        "QUIT"
    )

    static let server = crlf(
        "220 foo.edu LMTP PostOffice ready",
        "250-foo.edu",
        "250-PIPELINING",
        "250-ENHANCEDSTATUSCODES",
        "250-8BITMIME",
        "250 SIZE 52428800",
        "250 2.1.0 OK",
        "250 2.1.5 <pat@foo.edu> OK",
        "550 5.1.1 <jones@foo.edu> User unknown",
        "250 2.1.5 <green@foo.edu> OK",
        "354 Start mail input; end with <CRLF>.<CRLF>",
        "250 2.0.0 <pat@foo.edu> Saved",
        "452 4.3.1 <green@foo.edu> Mail system full, try again later",
        "221 2.0.0 foo.edu closing connection"
    )

    static func driver() -> SessionDriver {
        var driver = SessionDriver(hostname: "foo.edu", users: ["pat", "green"])
        driver.outcomes["green"] = .storageFull
        return driver
    }

    @Test("§4.2 example, line by line, pipelined, and byte by byte", arguments: [Int.max, 1, 2, 7])
    func example(chunkSize: Int) {
        var driver = Self.driver()
        driver.send(Self.client, chunkSize: chunkSize)
        #expect(driver.output == Self.server)
        #expect(driver.closed)
        #expect(driver.deliveries.map(\.user) == ["pat", "green"])
        // The "..." lines were dot-stuffed: one dot comes off (RFC 5321 §4.5.2).
        #expect(driver.deliveries.map(text) == Array(repeating: "Blah blah blah...\r\n..etc. etc. etc.\r\n", count: 2))
        #expect(driver.deliveries.first?.reversePath.description == "<chris@bar.com>")
    }

    @Test("one command at a time gives the same replies as the pipelined stream")
    func lockStep() {
        var driver = Self.driver()
        for line in Self.client.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast() {
            driver.send(line + "\r\n")
        }
        #expect(driver.output == Self.server)
    }

    /// RFC 2920 §3.1's shape for LMTP: a client that pipelines RSET, MAIL, RCPTs and DATA
    /// gets the replies in order, and DATA fails with 503 when no RCPT succeeded
    /// (RFC 2033 §4.2); the data it would have sent is never read as commands.
    @Test("pipelined transaction whose recipients all fail")
    func pipelinedAllRecipientsFail() {
        var driver = SessionDriver(users: ["alice"])
        driver.send(
            crlf("LHLO client.example", "RSET", "MAIL FROM:<>", "RCPT TO:<x@y>", "RCPT TO:<z@y>", "DATA", "NOOP")
        )
        #expect(
            driver.takeOutput().hasSuffix(
                crlf(
                    "250 2.0.0 OK",
                    "250 2.1.0 OK",
                    "550 5.1.1 <x@y> User unknown",
                    "550 5.1.1 <z@y> User unknown",
                    "503 5.5.1 No valid recipients",
                    "250 2.0.0 OK"
                )
            )
        )
        #expect(driver.deliveries.isEmpty)
    }

    @Test("two transactions on one connection, as Postfix's connection cache sends them")
    func twoTransactions() {
        var driver = SessionDriver(users: ["alice", "bob"])
        driver.send(crlf("LHLO mx", "MAIL FROM:<a@x>", "RCPT TO:<alice@x>", "DATA", "one", "."))
        driver.send(crlf("RSET", "MAIL FROM:<b@x> SIZE=4 BODY=8BITMIME", "RCPT TO:<bob@x>", "DATA", "two", "."))
        #expect(driver.deliveries.map(\.user) == ["alice", "bob"])
        #expect(driver.deliveries.map(text) == ["one\r\n", "two\r\n"])
        #expect(driver.deliveries.map(\.reversePath.description) == ["<a@x>", "<b@x>"])
        #expect(!driver.closed)
    }
}
