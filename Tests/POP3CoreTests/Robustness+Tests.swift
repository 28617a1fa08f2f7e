import MailCore
import NIOCore
import POP3Core
import POP3TestSupport
import Testing

/// A synchronous stand-in for the I/O shell: frames and parses input as the server does,
/// performs every action at once, and records what would go on the wire.
struct ImmediateShell {
    var session: ServerSession
    var framer: LineFramer
    var buffer = ByteBuffer()
    /// Status and continuation lines, as encoded.
    var statusLines: [String] = []
    /// Lines of multi-line listings (CAPA, LIST, UIDL).
    var listingLines: [String] = []
    var lastCommand: Command?
    var problems: [String] = []

    init(configuration: ServerSession.Configuration) {
        self.session = ServerSession(configuration: configuration)
        self.framer = LineFramer(maximumLineLength: configuration.limits.maximumLineLength)
        self.record(self.session.greeting)
    }

    var isClosed: Bool { session.isClosed }

    /// Feeds one chunk, as a socket read delivers it.
    mutating func receive(_ bytes: [UInt8]) {
        buffer.writeBytes(bytes)
        while !isClosed, let frame = framer.next(buffer: &buffer) {
            switch frame {
            case .overlong(let error):
                perform(session.receivedMalformedLine(error))
            case .line(let line):
                let action: ServerSession.Action
                do {
                    let parsed = try CommandParser.parse(
                        line: line,
                        expecting: session.expectation,
                        limits: session.configuration.limits
                    )
                    if case .command(let command) = parsed { lastCommand = command }
                    action = session.received(parsed)
                } catch {
                    action = session.receivedMalformedLine(error)
                }
                perform(action)
            }
        }
        buffer.discardReadBytes()
    }

    private mutating func record(_ response: Response) {
        var encoded = ByteBuffer()
        encoded.writePOP3Response(response)
        statusLines.append(String(decoding: encoded.readableBytesView, as: UTF8.self))
    }

    private mutating func perform(_ first: ServerSession.Action) {
        var next: ServerSession.Action? = first
        var steps = 0
        while let action = next {
            steps += 1
            guard steps <= 20 else {
                problems.append("more than 20 actions for one line")
                return
            }
            next = nil
            switch action {
            case .wait:
                return
            case .send(let response):
                record(response)
            case .sendListing(let header, let listing):
                record(header)
                listingLines += listing.lines
            case .sendContinuation(let bytes):
                statusLines.append("+ \(Base64.encode(bytes))\r\n")
            case .streamMessage(let index, let header, _):
                if index < 0 || index >= 2 { problems.append("stream of message index \(index)") }
                record(header)
                session.messageStreamFinished(index: index, octets: 10, wholeMessage: true)
            case .verifyPassword(let user, let password):
                next =
                    password == Array("pw".utf8)
                    ? session.authenticationSucceeded(user: user) : session.authenticationFailed(.invalidCredentials)
            case .verifyAPOP:
                next = session.authenticationFailed(.invalidCredentials)
            case .startSASL(_, let initialResponse):
                next = initialResponse == nil ? session.saslChallenge([]) : session.authenticationFailed(.malformed)
            case .stepSASL(let bytes):
                // Alternate between another challenge and an outcome, to walk the exchange.
                next =
                    bytes.count % 2 == 0
                    ? session.saslChallenge(Array(bytes.prefix(4))) : session.authenticationSucceeded(user: "alice")
            case .rejectLogin:
                next = session.authenticationFailed(.invalidCredentials)
            case .openMaildrop:
                next = session.maildropOpened([.init(size: 10, uniqueID: "a"), .init(size: 20, uniqueID: "b")])
            case .startTLS(let response):
                record(response)
                next = session.stlsRequested(bufferedBytes: buffer.readableBytes)
            case .commitDeletions:
                // Invariant 1 (DESIGN.md): UPDATE only after QUIT.
                if lastCommand != .quit { problems.append("deletions committed without QUIT") }
                next = session.deletionsCommitted(success: true)
            case .sendAndClose(let response):
                record(response)
            case .close:
                return
            }
        }
    }
}

/// Random input through the line framer, the command parser and `ServerSession`: no trap,
/// every status line well formed, deletions only after QUIT (DESIGN.md invariants 1 and 3).
@Suite("Robustness under random input")
struct RobustnessTests {
    static let limits = POP3Limits(maximumCommandLineLength: 255, maximumSASLResponseLineLength: 1024)

    @Test(arguments: 0..<4)
    func randomByteStringsThroughTheSession(batch: Int) {
        var random = SeededRandom(seed: 0x504F_5033 &+ UInt64(batch))
        var transactions = 0
        for index in 0..<500 {
            let configuration = ServerSession.Configuration(
                limits: Self.limits,
                stlsAvailable: index % 3 == 0,
                cleartextAllowedWithoutTLS: index % 5 != 0,
                apopTimestamp: index % 2 == 0 ? "<1.2@localhost>" : nil
            )
            var shell = ImmediateShell(configuration: configuration)
            var input = RandomPOP3Input.make(using: &random, maximumLength: 2048)
            if index % 2 == 0 { input = Array("USER alice\r\nPASS pw\r\n".utf8) + input }
            for chunk in RandomPOP3Input.chunks(of: input, using: &random, maximumChunk: 300) where !shell.isClosed {
                shell.receive(chunk)
            }
            if shell.session.isInTransaction || shell.statusLines.contains(where: { $0.hasPrefix("+OK maildrop has") })
            {
                transactions += 1
            }
            let context = "batch \(batch) input \(index)"
            #expect(shell.problems.isEmpty, "\(context): \(shell.problems)")
            for line in shell.statusLines {
                let wellFormed = line.hasPrefix("+OK") || line.hasPrefix("-ERR") || line.hasPrefix("+ ")
                #expect(wellFormed, "\(context): \(line.debugDescription)")
                #expect(
                    line.hasSuffix("\r\n") && line.dropLast(2).allSatisfy { $0 != "\r" && $0 != "\n" },
                    "\(context)"
                )
                #expect(line.utf8.count <= Self.limits.maximumResponseLineLength, "\(context): RFC 2449 §4")
            }
            for line in shell.listingLines {
                #expect(!line.contains("\r") && !line.contains("\n"), "\(context): \(line.debugDescription)")
            }
        }
        #expect(transactions > 50, "the inputs reach TRANSACTION often enough to test it")
    }

    /// The incremental parser on the same inputs, drip-fed: it never traps, and when it
    /// answers "need more bytes" it has consumed nothing (GUIDE B4) unless it is dropping
    /// the rest of an overlong line.
    @Test func incrementalParserOnRandomChunks() {
        var random = SeededRandom(seed: 42)
        var lines = 0
        for _ in 0..<2000 {
            var parser = CommandParser(limits: Self.limits)
            var buffer = ByteBuffer()
            let input = RandomPOP3Input.make(using: &random, maximumLength: 600)
            for chunk in RandomPOP3Input.chunks(of: input, using: &random, maximumChunk: 40) {
                buffer.writeBytes(chunk)
                for _ in 0...buffer.readableBytes {
                    let before = buffer.readableBytes
                    let expecting: CommandParser.Expectation = Bool.random(using: &random) ? .command : .saslResponse
                    do {
                        guard try parser.parseClientLine(buffer: &buffer, expecting: expecting) != nil else {
                            // Untouched, or the tail of an overlong line dropped entirely.
                            #expect(buffer.readableBytes == before || buffer.readableBytes == 0)
                            break
                        }
                        lines += 1
                    } catch {
                        lines += 1
                        #expect(error is POP3ParserError || error is ExceededLineLengthLimit)
                    }
                    #expect(buffer.readableBytes < before, "a line or error consumes input")
                }
            }
        }
        #expect(lines > 2000)
    }
}
