// The session's states written as exchanges: every command in every state, and the replies
// after DATA.
import LMTPCore
import NIOCore
import Testing

/// A driver past LHLO with `users`.
private func greeted(_ users: Set<String> = ["alice", "bob"], limits: LMTPLimits = LMTPLimits()) -> SessionDriver {
    var driver = SessionDriver(limits: limits, users: users)
    driver.send("LHLO mx.example.org\r\n")
    _ = driver.takeOutput()
    return driver
}

/// A driver inside a transaction from <s@x> with alice accepted.
private func inTransaction() -> SessionDriver {
    var driver = greeted()
    driver.send(crlf("MAIL FROM:<s@x>", "RCPT TO:<alice@example.org>"))
    _ = driver.takeOutput()
    return driver
}

@Suite("LMTPServerSession: before LHLO")
struct BeforeLHLOTests {
    @Test("HELO and EHLO are refused with 500 (RFC 2033 §4.1)", arguments: ["HELO x", "EHLO x", "ehlo x"])
    func smtpHello(_ line: String) {
        var driver = SessionDriver()
        _ = driver.takeOutput()
        driver.send(line + "\r\n")
        #expect(driver.takeOutput().hasPrefix("500 5.5.1 "))
    }

    @Test("MAIL, RCPT and DATA need LHLO first", arguments: ["MAIL FROM:<a@b>", "RCPT TO:<a@b>", "DATA"])
    func transactionBeforeLHLO(_ line: String) {
        var driver = SessionDriver(users: ["a"])
        _ = driver.takeOutput()
        driver.send(line + "\r\n")
        #expect(driver.takeOutput().hasPrefix("503 5.5.1 "))
    }

    @Test("NOOP, RSET, VRFY, HELP and QUIT work before LHLO")
    func harmlessCommands() {
        var driver = SessionDriver()
        _ = driver.takeOutput()
        driver.send(crlf("NOOP", "RSET", "VRFY alice", "HELP"))
        #expect(
            driver.takeOutput()
                == crlf(
                    "250 2.0.0 OK",
                    "250 2.0.0 OK",
                    "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery",
                    "214 2.0.0 Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"
                )
        )
        driver.send("QUIT\r\n")
        #expect(driver.takeOutput() == crlf("221 2.0.0 lmtp.example.org closing connection"))
        #expect(driver.closed)
    }

    @Test("the greeting and the LHLO reply")
    func greetingAndLHLO() {
        var driver = SessionDriver(limits: LMTPLimits(maximumMessageSize: 1000))
        driver.send("lhlo client\r\n")
        #expect(
            driver.output
                == crlf(
                    "220 lmtp.example.org LMTP PostOffice ready",
                    "250-lmtp.example.org",
                    "250-PIPELINING",
                    "250-ENHANCEDSTATUSCODES",
                    "250-8BITMIME",
                    "250 SIZE 1000"
                )
        )
    }
}

@Suite("LMTPServerSession: transactions")
struct TransactionTests {
    @Test("MAIL twice is a nested transaction; RSET ends it; LHLO again resets it")
    func nestedMailAndReset() {
        var driver = greeted()
        driver.send(crlf("MAIL FROM:<a@x>", "MAIL FROM:<b@x>", "RSET", "MAIL FROM:<b@x>", "LHLO again"))
        driver.send("RCPT TO:<alice@x>\r\n")
        let output = driver.takeOutput()
        #expect(output.hasPrefix(crlf("250 2.1.0 OK", "503 5.5.1 Nested MAIL command", "250 2.0.0 OK", "250 2.1.0 OK")))
        #expect(output.hasSuffix(crlf("503 5.5.1 Need MAIL before RCPT")))
    }

    @Test("RCPT before MAIL and DATA before MAIL are out of sequence")
    func outOfSequence() {
        var driver = greeted()
        driver.send(crlf("RCPT TO:<alice@x>", "DATA"))
        #expect(driver.takeOutput() == crlf("503 5.5.1 Need MAIL before RCPT", "503 5.5.1 Need MAIL command"))
        #expect(driver.lookups.isEmpty)
    }

    @Test("a SIZE over the limit is refused at MAIL (RFC 1870 §6.1)")
    func declaredSizeTooLarge() {
        var driver = greeted(limits: LMTPLimits(maximumMessageSize: 100))
        driver.send(
            crlf("MAIL FROM:<a@x> SIZE=101", "MAIL FROM:<a@x> SIZE=99999999999999999999", "MAIL FROM:<a@x> SIZE=100")
        )
        #expect(
            driver.takeOutput()
                == crlf(
                    "552 5.3.4 Message size exceeds fixed maximum message size",
                    "552 5.3.4 Message size exceeds fixed maximum message size",
                    "250 2.1.0 OK"
                )
        )
    }

    @Test("recipients past the limit get 452 4.5.3 and are not looked up (RFC 5321 §4.5.3.1.10)")
    func tooManyRecipients() {
        var driver = greeted(limits: LMTPLimits(maximumRecipients: 2))
        driver.send(crlf("MAIL FROM:<a@x>", "RCPT TO:<alice@x>", "RCPT TO:<bob@x>", "RCPT TO:<carol@x>"))
        #expect(driver.takeOutput().hasSuffix(crlf("452 4.5.3 Too many recipients")))
        #expect(driver.lookups.count == 2)
        // Unknown recipients do not count towards the limit.
        var unknown = greeted(limits: LMTPLimits(maximumRecipients: 1))
        unknown.send(crlf("MAIL FROM:<a@x>", "RCPT TO:<nobody@x>", "RCPT TO:<alice@x>"))
        #expect(unknown.takeOutput().hasSuffix(crlf("250 2.1.5 <alice@x> OK")))
    }

    @Test("a lookup that cannot be answered is a temporary failure, not an unknown user")
    func lookupFailure() {
        var driver = greeted()
        driver.brokenLookups = ["alice@x"]
        driver.send(crlf("MAIL FROM:<a@x>", "RCPT TO:<alice@x>"))
        #expect(driver.takeOutput().hasSuffix(crlf("451 4.3.0 <alice@x> User lookup failed, try again later")))
    }

    @Test("local@domain is user local unless the whole address is a user; case is tried last")
    func recipientResolution() {
        var driver = greeted(["alice", "bob@example.org", "carol"])
        driver.send(
            crlf(
                "MAIL FROM:<a@x>",
                "RCPT TO:<alice@example.org>",
                "RCPT TO:<bob@example.org>",
                "RCPT TO:<Carol@Example.org>",
                "RCPT TO:<bob@example.net>",
                "DATA",
                "hi",
                "."
            )
        )
        #expect(driver.deliveries.map(\.user) == ["alice", "bob@example.org", "carol"])
        #expect(driver.takeOutput().contains("550 5.1.1 <bob@example.net> User unknown"))
    }

    @Test("one reply per accepted recipient in RCPT order; one copy per account")
    func repliesPerRecipient() {
        var driver = greeted(["alice", "bob", "carol"])
        driver.outcomes = ["bob": .temporaryFailure, "carol": .noSuchUser]
        driver.send(
            crlf(
                "MAIL FROM:<s@x>",
                "RCPT TO:<alice@x>",
                "RCPT TO:<bob@x>",
                "RCPT TO:<alice@y>",
                "RCPT TO:<carol@x>",
                "RCPT TO:<bob@y>",
                "DATA",
                "body",
                "."
            )
        )
        #expect(
            driver.takeOutput().hasSuffix(
                crlf(
                    "354 Start mail input; end with <CRLF>.<CRLF>",
                    "250 2.0.0 <alice@x> Saved",
                    "451 4.3.0 <bob@x> Temporary failure storing the message",
                    "250 2.0.0 <alice@y> Saved",
                    "550 5.1.1 <carol@x> User unknown",
                    "451 4.3.0 <bob@y> Temporary failure storing the message"
                )
            )
        )
        #expect(driver.deliveries.map(\.user) == ["alice", "bob", "carol"])
        // Delivered-To names the first recipient of each account.
        #expect(driver.deliveries.map(\.recipient.address) == ["alice@x", "bob@x", "carol@x"])
    }

    @Test("after the replies the transaction is over: MAIL is accepted again, RCPT is not")
    func transactionEnds() {
        var driver = inTransaction()
        driver.send(crlf("DATA", "x", ".", "RCPT TO:<bob@x>", "MAIL FROM:<t@x>"))
        #expect(
            driver.takeOutput().hasSuffix(
                crlf("250 2.0.0 <alice@example.org> Saved", "503 5.5.1 Need MAIL before RCPT", "250 2.1.0 OK")
            )
        )
    }

    @Test("DATA with an argument is a syntax error; DATA with recipients starts the message")
    func dataSyntax() {
        var driver = inTransaction()
        driver.send("DATA now\r\n")
        #expect(driver.takeOutput() == crlf("501 5.5.4 syntax: DATA takes no argument"))
        driver.send("data\r\n")
        #expect(driver.takeOutput() == crlf("354 Start mail input; end with <CRLF>.<CRLF>"))
        #expect(driver.session.isReceivingData)
    }

    @Test("QUIT in a transaction closes without delivering")
    func quitInTransaction() {
        var driver = inTransaction()
        driver.send("QUIT\r\n")
        #expect(driver.closed)
        #expect(driver.deliveries.isEmpty)
    }
}

@Suite("LMTPServerSession: message data")
struct MessageDataTests {
    @Test("dot-unstuffing, an empty message, lines of dots", arguments: [Int.max, 1])
    func unstuffing(chunkSize: Int) {
        var driver = inTransaction()
        driver.send(crlf("DATA", "..", "...x", ".y", "a.b", "."), chunkSize: chunkSize)
        driver.send(crlf("MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "DATA", "."), chunkSize: chunkSize)
        #expect(driver.deliveries.map(text) == [".\r\n..x\r\ny\r\na.b\r\n", ""])
    }

    @Test("only CRLF.CRLF ends the data: a bare LF.LF is content (no smuggling)")
    func bareLineFeedsDoNotEnd() {
        var driver = inTransaction()
        driver.send("DATA\r\nfirst\n.\nMAIL FROM:<evil@x>\r\n.\r\n")
        #expect(driver.deliveries.map(text) == ["first\n.\nMAIL FROM:<evil@x>\r\n"])
        #expect(driver.takeOutput().hasSuffix(crlf("250 2.0.0 <alice@example.org> Saved")))
    }

    @Test("8-bit bytes and NUL in the body are stored as they came")
    func eightBitBody() {
        var driver = inTransaction()
        driver.send(bytes: Array("DATA\r\n".utf8) + [0xC3, 0xA9, 0x00, 0xFF, 0x0D, 0x0A] + Array(".\r\n".utf8))
        #expect(
            driver.deliveries.first.map { Array($0.message.readableBytesView) } == [0xC3, 0xA9, 0x00, 0xFF, 0x0D, 0x0A]
        )
    }

    @Test("a message over the limit is read to its end and refused for each recipient", arguments: [Int.max, 1, 13])
    func tooLarge(chunkSize: Int) {
        var driver = greeted(limits: LMTPLimits(maximumMessageSize: 50))
        let body = String(repeating: "0123456789\r\n", count: 10)
        driver.send(
            crlf("MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "RCPT TO:<bob@x>", "DATA") + body + crlf(".", "NOOP"),
            chunkSize: chunkSize
        )
        #expect(
            driver.takeOutput().hasSuffix(
                crlf(
                    "354 Start mail input; end with <CRLF>.<CRLF>",
                    "552 5.3.4 <alice@x> Message exceeds the size limit (RFC 1870)",
                    "552 5.3.4 <bob@x> Message exceeds the size limit (RFC 1870)",
                    "250 2.0.0 OK"
                )
            )
        )
        #expect(driver.deliveries.isEmpty)
        // Exactly at the limit is fine.
        driver.send(crlf("MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "DATA", String(repeating: "x", count: 48), "."))
        #expect(driver.deliveries.count == 1)
        #expect(driver.deliveries.first?.message.readableBytes == 50)
    }

    @Test("commands pipelined after the final dot are read as commands")
    func commandsAfterData() {
        var driver = inTransaction()
        driver.send(crlf("DATA", "x", ".", "NOOP", "QUIT"))
        #expect(driver.takeOutput().hasSuffix(crlf("250 2.0.0 OK", "221 2.0.0 lmtp.example.org closing connection")))
    }
}

@Suite("LMTPServerSession: timeouts and shutdown")
struct TimeoutAndShutdownTests {
    @Test("the idle timer closes with 421 4.4.2")
    func idle() {
        var driver = greeted()
        driver.timeOut()
        #expect(driver.takeOutput() == crlf("421 4.4.2 lmtp.example.org idle for too long, closing connection"))
        #expect(driver.closed)
    }

    @Test("shutdown between transactions closes at once")
    func shutdownIdle() {
        var driver = greeted()
        driver.shutdown()
        #expect(driver.takeOutput() == crlf("421 4.3.2 lmtp.example.org shutting down"))
        #expect(driver.closed)
    }

    @Test("shutdown while a message is read lets it be delivered, then closes")
    func shutdownDuringData() {
        var driver = inTransaction()
        driver.send("DATA\r\npart one\r\n")
        driver.shutdown()
        #expect(!driver.closed)
        driver.send(crlf("part two", ".", "MAIL FROM:<s@x>"))
        #expect(driver.deliveries.map(text) == ["part one\r\npart two\r\n"])
        #expect(
            driver.takeOutput().hasSuffix(
                crlf("250 2.0.0 <alice@example.org> Saved", "421 4.3.2 lmtp.example.org shutting down")
            )
        )
        #expect(driver.closed)
    }
}
