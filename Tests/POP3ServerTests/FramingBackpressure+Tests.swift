import NIOCore
import NIOEmbedded
import POP3Core
import POP3TestSupport
import Testing

@testable import POP3Server

/// The framing handler passes on lines in bounded batches, driven by read requests, so one
/// socket read full of short lines cannot turn into an unbounded queue of frames.
@Suite("Framing backpressure")
struct FramingBackpressureTests {
    static func frames(_ channel: EmbeddedChannel) throws -> [POP3InboundFrame] {
        var frames: [POP3InboundFrame] = []
        while let frame = try channel.readInbound(as: POP3InboundFrame.self) { frames.append(frame) }
        return frames
    }

    @Test func aReadFullOfLinesIsPassedOnInBatches() throws {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try channel.pipeline.syncOperations.addHandler(POP3FramingHandler(limits: POP3Limits()))
        let batch = POP3FramingHandler.maximumFramesPerBatch
        try channel.writeInbound(ByteBuffer(string: String(repeating: "NOOP\r\n", count: 10_000)))
        #expect(try Self.frames(channel).count == batch, "one socket read: one batch")

        // A read request (the async bridge asking for more) gets the next batch, and the
        // handler asks again on the next tick until no whole line is left.
        channel.read()
        #expect(try Self.frames(channel).count == batch)
        channel.embeddedEventLoop.run()
        let rest = try Self.frames(channel)
        #expect(rest.count == 10_000 - 2 * batch)
        guard case .line(let line, isSTLSGate: false) = rest.last else {
            Issue.record("expected a line, got \(String(describing: rest.last))")
            return
        }
        #expect(String(buffer: line) == "NOOP")
    }

    /// A peer that sends only line ends gets them framed a batch at a time as well.
    @Test func emptyLinesAreBatchedToo() throws {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        try channel.pipeline.syncOperations.addHandler(POP3FramingHandler(limits: POP3Limits()))
        try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "\n"), count: 65_536))
        #expect(try Self.frames(channel).count == POP3FramingHandler.maximumFramesPerBatch)
    }

    /// STLS arriving in a later batch (not straight from a socket read): accepted, TLS starts
    /// and the session goes on under it.
    @Test func stlsAfterAFullBatchStartsTLS() async throws {
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

    /// STLS refused in a later batch: framing resumes with the lines after it.
    @Test func stlsRefusedAfterAFullBatchResumes() async throws {
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
