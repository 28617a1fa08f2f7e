// The channel handler's flow control, on an EmbeddedChannel whose writability the test sets.
import LMTPCore
import Logging
import NIOCore
import NIOEmbedded
import POP3TestSupport
import Testing

@testable import LMTPServer

/// Counts the `read` requests that reach the socket end of the pipeline.
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

@Suite("LMTPServerHandler: flow control")
struct LMTPServerHandlerTests {
    private func makeChannel() throws -> (EmbeddedChannel, ReadCounter) {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        let agent = LMTPDeliveryAgent(
            accounts: InMemoryAccounts([:]),
            store: TestMailStore(),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(
            LMTPServerHandler(
                configuration: .init(hostname: "h", limits: LMTPLimits(maximumBufferedInputBytes: 64)),
                agent: agent,
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            )
        )
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 24)).wait()
        return (channel, counter)
    }

    private func output(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += buffer.readString(length: buffer.readableBytes) ?? ""
        }
        return text
    }

    @Test("while the peer does not read, commands wait and reading stops; both resume with writability")
    func writability() throws {
        let (channel, counter) = try makeChannel()
        #expect(try output(channel) == "220 h LMTP PostOffice ready\r\n")
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        try channel.writeInbound(ByteBuffer(string: "LHLO x\r\nNOOP\r\nNOOP\r\n"))
        #expect(try output(channel) == "")
        let readsBefore = counter.reads
        channel.read()
        #expect(counter.reads == readsBefore)

        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(try output(channel).hasSuffix("250 SIZE 52428800\r\n250 2.0.0 OK\r\n250 2.0.0 OK\r\n"))
        #expect(counter.reads == readsBefore + 1)
        _ = try channel.finish()
    }

    @Test("more than the buffer limit of unanswered input stops reading until it is consumed")
    func inputBound() throws {
        let (channel, counter) = try makeChannel()
        _ = try output(channel)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        try channel.writeInbound(ByteBuffer(string: "LHLO x\r\n" + String(repeating: "NOOP\r\n", count: 20)))
        // Writable again, but the handler hears of it only through the event below: until
        // then the 128 unanswered bytes (over the 64-byte limit) alone hold reading back.
        channel.isWritable = true
        let readsBefore = counter.reads
        channel.read()
        #expect(counter.reads == readsBefore)
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(
            try output(channel).hasSuffix("250 SIZE 52428800\r\n" + String(repeating: "250 2.0.0 OK\r\n", count: 20))
        )
        #expect(counter.reads == readsBefore + 1)
        _ = try channel.finish()
    }
}
