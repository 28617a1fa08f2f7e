import Logging
import MailStore
import NIOCore
import NIOEmbedded
import POP3Core
import POP3TestSupport
import Testing

@testable import POP3Server

/// Counts the `read` requests that reach the socket end of the pipeline.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var reads = 0

    func read(context: ChannelHandlerContext) {
        self.reads += 1
        context.read()
    }
}

/// The handler answers one socket read full of lines only as fast as the socket takes the
/// answers, and asks the socket for more only when it has room: a burst of pipelined
/// commands cannot turn into unbounded memory.
@Suite("Handler backpressure")
struct HandlerBackpressureTests {
    static func makeChannel(
        _ configure: (inout POP3Limits) -> Void = { _ in }
    ) throws -> (EmbeddedChannel, ReadCounter) {
        var limits = POP3Limits()
        configure(&limits)
        let configuration = POP3ServerConfiguration(
            listeners: [],
            limits: limits,
            authFailureDelay: 0,
            accountProvider: InMemoryAccounts(["alice": "secret"]),
            mailStore: TestMailStore(),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        let environment = POP3ConnectionEnvironment(
            configuration: configuration,
            sslContext: nil,
            failureDelays: AuthFailureDelays(base: 0, cap: 0)
        )
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(
            POP3ServerHandler(
                environment: environment,
                eventLoop: channel.eventLoop,
                peer: PeerAddress(try SocketAddress(ipAddress: "127.0.0.1", port: 40000)),
                implicitTLS: false,
                onFinished: {}
            )
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 110)).wait()
        return (channel, counter)
    }

    /// How many CAPA answers `text` holds.
    static func capaAnswers(_ text: String) -> Int {
        text.split(separator: "\r\n").count { $0 == "+OK Capability list follows" }
    }

    /// Everything written so far, as text.
    static func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test func aReadFullOfLinesIsAnsweredAsTheSocketTakesTheAnswers() throws {
        let (channel, counter) = try Self.makeChannel { $0.maximumUnauthenticatedCommands = 20_000 }
        defer { _ = try? channel.finish() }
        #expect(try Self.written(channel).hasPrefix("+OK PostOffice POP3 server ready"))

        // The socket stops taking output; one read brings 10,000 CAPA commands.
        channel.isWritable = false
        try channel.writeInbound(ByteBuffer(string: String(repeating: "CAPA\r\n", count: 10_000)))
        let first = try Self.written(channel)
        let listing = Self.capaAnswers(first)
        #expect(listing > 0)
        #expect(listing < 10_000)
        #expect(
            first.utf8.count <= POP3ServerHandler.outputChunkSize + 1024,
            "at most one chunk gathers while the socket takes nothing"
        )
        let readsBefore = counter.reads
        channel.read()
        #expect(counter.reads == readsBefore, "no socket read while answers are waiting")

        // The socket takes output again: the rest is answered, and reading resumes.
        var answered = listing
        for _ in 0..<1000 where answered < 10_000 {
            channel.isWritable = true
            channel.pipeline.fireChannelWritabilityChanged()
            answered += Self.capaAnswers(try Self.written(channel))
        }
        #expect(answered == 10_000)
        #expect(counter.reads > readsBefore, "the held read goes to the socket once the lines are answered")
    }

    /// A peer that sends only line ends is cut off by the bad-command limit, not answered
    /// 65,536 times.
    @Test func emptyLinesEndAtTheBadCommandLimit() throws {
        let (channel, _) = try Self.makeChannel()
        defer { _ = try? channel.finish() }
        _ = try Self.written(channel)
        try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "\n"), count: 65_536))
        let answers = try Self.written(channel).split(separator: "\r\n")
        #expect(answers.count == POP3Limits().maximumBadCommands)
        #expect(answers.last == "-ERR too many bad commands, closing")
    }

    /// Pipelined commands are answered in one write per read, not one write per command.
    @Test func answersToOneReadLeaveInOneWrite() throws {
        let (channel, _) = try Self.makeChannel()
        defer { _ = try? channel.finish() }
        _ = try Self.written(channel)
        try channel.writeInbound(ByteBuffer(string: "CAPA\r\nUSER alice\r\nNOOP\r\n"))
        channel.pipeline.fireChannelReadComplete()
        var writes: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { writes.append(String(buffer: buffer)) }
        #expect(writes.count == 1)
        #expect(writes.first?.hasSuffix("+OK send PASS\r\n-ERR not authenticated\r\n") == true)
    }
}

/// STLS in the middle of a burst of pipelined lines.
@Suite("STLS after pipelined lines")
struct STLSAfterPipelinedLinesTests {
    /// STLS after a full burst of other commands: accepted, TLS starts and the session goes on
    /// under it.
    @Test func stlsAfterABurstStartsTLS() async throws {
        try await TestServer.with(tls: true) { server in
            let context = try #require(server.ca).clientContext()
            try await server.connect { client async throws in
                _ = try await client.line()
                try await client.send(String(repeating: "CAPA\r\n", count: 20) + "STLS\r\n")
                for _ in 0..<20 {
                    #expect(try await client.line() == "+OK Capability list follows")
                    _ = try await client.multiLineBody()
                }
                #expect(try await client.line() == "+OK Begin TLS negotiation")
                try await client.startTLS(context: context)
                #expect(try await client.command("USER alice") == "+OK send PASS")
                #expect(try await client.command("PASS secret").hasPrefix("+OK maildrop has"))
            }
        }
    }

    /// STLS refused in a burst: the lines after it are answered.
    @Test func stlsRefusedInABurstGoesOn() async throws {
        try await TestServer.with { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                try await client.send(
                    String(repeating: "CAPA\r\n", count: 20) + "STLS\r\nUSER alice\r\nPASS secret\r\nSTAT\r\n"
                )
                for _ in 0..<20 {
                    #expect(try await client.line() == "+OK Capability list follows")
                    _ = try await client.multiLineBody()
                }
                #expect(try await client.line() == "-ERR STLS not available")
                #expect(try await client.line() == "+OK send PASS")
                #expect(try await client.line().hasPrefix("+OK maildrop has"))
                #expect(try await client.line() == "+OK 0 0")
            }
        }
    }
}
