// Hostile input: overlong lines, NUL bytes, floods and pipelined garbage, whole and drip-fed.
// Each must get an error reply or a clean close, with memory bounded (GUIDE B9.6).
import LMTPCore
import NIOCore
import POP3TestSupport
import Testing

@Suite("LMTPServerSession: hostile input")
struct HostileInputTests {
    @Test("a 1 MB line without CRLF is refused once, then the session goes on", arguments: [Int.max, 4096])
    func overlongLine(chunkSize: Int) {
        var driver = SessionDriver(users: ["alice"])
        driver.send("LHLO x\r\n")
        _ = driver.takeOutput()
        driver.send(String(repeating: "A", count: 1_000_000), chunkSize: chunkSize)
        // Bounded: the framer drops what it cannot use.
        #expect(driver.pendingInput <= LMTPLimits().maximumCommandLineLength)
        driver.send("\r\nNOOP\r\n")
        #expect(driver.takeOutput() == crlf("500 5.5.2 line too long", "250 2.0.0 OK"))
    }

    @Test("an overlong line drip-fed byte by byte is refused once")
    func overlongDripFed() {
        var driver = SessionDriver(limits: LMTPLimits(maximumCommandLineLength: 64))
        driver.send("LHLO x\r\n" + String(repeating: "B", count: 500) + "\r\nNOOP\r\n", chunkSize: 1)
        #expect(driver.takeOutput().hasSuffix(crlf("500 5.5.2 line too long", "250 2.0.0 OK")))
    }

    @Test(
        "NUL and control bytes in a command are refused",
        arguments: [[0x4E, 0x4F, 0x00, 0x4F, 0x50], Array("MAIL FROM:<a\u{0}b@x>".utf8), [0x1B, 0x5B, 0x32, 0x4A]]
    )
    func controlBytes(_ line: [UInt8]) {
        var driver = SessionDriver()
        driver.send("LHLO x\r\n")
        _ = driver.takeOutput()
        driver.send(bytes: line + [0x0D, 0x0A], chunkSize: 1)
        #expect(driver.takeOutput() == crlf("500 5.5.2 Invalid character in command"))
    }

    @Test("10,000 pipelined NOOPs get 10,000 replies")
    func noopFlood() {
        var driver = SessionDriver()
        driver.send("LHLO x\r\n" + String(repeating: "NOOP\r\n", count: 10_000))
        let replies = driver.takeOutput().split(separator: "\r\n")
        #expect(replies.count == 1 + 5 + 10_000)
        #expect(replies.last == "250 2.0.0 OK")
        #expect(driver.pendingInput == 0)
    }

    @Test("a flood of commands before LHLO is cut off")
    func commandsBeforeLHLO() {
        var driver = SessionDriver(limits: LMTPLimits(maximumCommandsBeforeLHLO: 3))
        _ = driver.takeOutput()
        driver.send(String(repeating: "NOOP\r\n", count: 100), chunkSize: 1)
        #expect(
            driver.takeOutput()
                == crlf(
                    "250 2.0.0 OK",
                    "250 2.0.0 OK",
                    "250 2.0.0 OK",
                    "421 4.7.0 lmtp.example.org too many commands before LHLO, closing connection"
                )
        )
        #expect(driver.closed)
    }

    @Test("pipelined garbage ends in 421 after the bad-command limit")
    func garbage() {
        var driver = SessionDriver(limits: LMTPLimits(maximumBadCommands: 5))
        driver.send("LHLO x\r\n")
        _ = driver.takeOutput()
        driver.send(String(repeating: "GARBAGE \u{7}\u{7}\r\nXYZZY\r\nMAIL TO:<x>\r\n", count: 50))
        let replies = driver.takeOutput().split(separator: "\r\n")
        #expect(replies.count == 5)
        #expect(replies.last == "421 4.7.0 lmtp.example.org too many errors, closing connection")
        #expect(driver.closed)
    }

    @Test("random bytes never crash the session and keep memory bounded", arguments: 0..<20)
    func randomBytes(seed: Int) {
        var generator = SeededRandom(seed: UInt64(seed))
        var bytes: [UInt8] = Array("LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<alice@b>\r\nDATA\r\n".utf8)
        bytes += (0..<20_000).map { _ in
            // Mostly printable, with line ends, dots and NULs mixed in.
            switch generator.next() % 16 {
            case 0: 0x0D
            case 1: 0x0A
            case 2: UInt8(ascii: ".")
            case 3: 0
            default: UInt8(truncatingIfNeeded: generator.next() % 256)
            }
        }
        var driver = SessionDriver(limits: LMTPLimits(maximumMessageSize: 4096), users: ["alice"])
        driver.send(bytes: bytes, chunkSize: Int(seed % 7) + 1)
        #expect(driver.pendingInput <= LMTPLimits().maximumCommandLineLength)
        #expect(driver.deliveries.allSatisfy { $0.message.readableBytes <= 4096 })
    }

    @Test("recipient addresses that do not parse are refused without a lookup")
    func badAddresses() {
        var driver = SessionDriver(users: ["alice"])
        driver.send(crlf("LHLO x", "MAIL FROM:<a@b>"))
        _ = driver.takeOutput()
        for line in ["RCPT TO:alice@b", "RCPT TO:<alice@b", "RCPT TO:<a..b@c>", "RCPT TO:<@x:>", "RCPT TO:<>"] {
            driver.send(line + "\r\n")
        }
        #expect(driver.lookups.isEmpty)
        #expect(driver.takeOutput().split(separator: "\r\n").allSatisfy { $0.hasPrefix("501 5.1.3 ") })
    }
}
