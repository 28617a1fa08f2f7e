// A POP3 server that follows a test's script, on 127.0.0.1 with an ephemeral port.

import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// One connection as the scripted server sees it.
final class ScriptedPeer {
    let channel: any Channel
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer = ByteBuffer()

    init(
        channel: any Channel,
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.channel = channel
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    func send(_ text: String) async throws {
        try await self.outbound.write(ByteBuffer(string: text))
    }

    func send(buffer: ByteBuffer) async throws {
        try await self.outbound.write(buffer)
    }

    func send(bytes: [UInt8]) async throws {
        try await self.outbound.write(ByteBuffer(bytes: bytes))
    }

    /// The next line from the client without CRLF, or nil at end of input.
    func readLine() async throws -> String? {
        while true {
            if let lf = self.buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = lf - self.buffer.readerIndex
                let line = self.buffer.readString(length: length)!
                self.buffer.moveReaderIndex(forwardBy: 1)
                return line.hasSuffix("\r") ? String(line.dropLast()) : line
            }
            guard var chunk = try await self.inbound.next() else { return nil }
            self.buffer.writeBuffer(&chunk)
        }
    }

    /// Whether a whole line has arrived and not been read yet (what a client sent in the same
    /// write as the lines already read).
    var hasBufferedLine: Bool {
        self.buffer.readableBytesView.contains(UInt8(ascii: "\n"))
    }

    /// Reads a line and records a test issue unless it is `expected`.
    func expect(_ expected: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let line = try await self.readLine()
        #expect(line == expected, sourceLocation: sourceLocation)
    }

    /// Puts a TLS server handler in front (implicit TLS is set up by the server instead).
    func startTLS(_ context: NIOSSLContext) async throws {
        let channel = self.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context), position: .first)
        }.get()
    }

    /// Waits for the client to close (or until the limit), reading and dropping what it sends.
    /// Reads until the client closes. A client that closes with our bytes unread makes the
    /// kernel reset the connection: that is a close too.
    func drainUntilClosed() async throws {
        do {
            while try await self.readLine() != nil {}
        } catch let error as IOError where error.errnoCode == ECONNRESET {
            return
        }
    }
}

/// A listening server that runs `script` for each accepted connection, one at a time.
final class ScriptedServer: Sendable {
    let port: Int
    private let serverChannel: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
    private let task: Task<Void, any Error>

    init(
        implicitTLS: NIOSSLContext? = nil,
        connections: Int = 1,
        script: @escaping @Sendable (ScriptedPeer) async throws -> Void
    ) async throws {
        let serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: implicitTLS))
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        self.serverChannel = serverChannel
        self.port = serverChannel.channel.localAddress!.port!  // safe: bound to an IP port
        self.task = Task {
            try await serverChannel.executeThenClose { inbound in
                var accepted = 0
                for try await connection in inbound {
                    accepted += 1
                    do {
                        try await connection.executeThenClose { input, output in
                            let peer = ScriptedPeer(channel: connection.channel, inbound: input, outbound: output)
                            try await script(peer)
                        }
                    } catch let error as NIOSSLError where error == .uncleanShutdown {
                        // A client that closes without close_notify: expected (TOOLCHAIN.md).
                    }
                    if accepted == connections { break }
                }
            }
        }
    }

    /// Waits for the script to end and rethrows its error.
    func finish() async throws {
        try await self.task.value
    }

    func stop() {
        self.serverChannel.channel.close(promise: nil)
        self.task.cancel()
    }
}
