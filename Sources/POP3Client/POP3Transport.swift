// The socket side of a client connection: connect, TLS (implicit or after STLS), chunked reads
// with a deadline each, writes. Knows nothing of POP3 commands.

import Logging
import NIOCore
import NIOPosix
import NIOSSL
import X509

/// A connected channel with an `InboundChunkReader` at its end.
final class POP3Transport: Sendable {
    let channel: any Channel
    private let reader: NIOLoopBound<InboundChunkReader>
    let configuration: POP3ClientConfiguration
    private let tls: TLSSetup?

    private init(
        channel: any Channel,
        reader: NIOLoopBound<InboundChunkReader>,
        configuration: POP3ClientConfiguration,
        tls: TLSSetup?
    ) {
        self.channel = channel
        self.reader = reader
        self.configuration = configuration
        self.tls = tls
    }

    /// Connects, and for implicit TLS completes the handshake.
    /// A person's words for why a connection failed: "connection refused", not NIO's error dump.
    static func reason(_ error: any Error) -> String {
        var errors: [any Error] = [error]
        if let many = error as? NIOConnectionError {
            errors = many.connectionErrors.map(\.error)
            if let dns = many.dnsAError ?? many.dnsAAAAError, errors.isEmpty { errors = [dns] }
        }
        for error in errors {
            if let io = error as? IOError {
                switch io.errnoCode {
                case ECONNREFUSED: return "connection refused (is a POP3 server listening there?)"
                case ETIMEDOUT: return "the connection timed out"
                case EHOSTUNREACH, ENETUNREACH: return "the host is unreachable"
                default: return String(cString: strerror(io.errnoCode))
                }
            }
        }
        if let many = error as? NIOConnectionError, many.connectionErrors.isEmpty {
            return "the host name could not be resolved"
        }
        return "\(error)"
    }

    static func connect(configuration: POP3ClientConfiguration) async throws -> POP3Transport {
        let tls: TLSSetup? =
            configuration.security == .plaintext ? nil : try await TLSSetup(configuration: configuration)
        let implicit = configuration.security == .implicitTLS ? tls : nil
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let implicit {
                        try channel.pipeline.syncOperations.addHandler(try implicit.makeHandler())
                    }
                    try channel.pipeline.syncOperations.addHandler(InboundChunkReader())
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch ChannelError.connectTimeout {
            throw POP3ClientError(
                kind: .timeout,
                message: "connecting to \(configuration.host) port \(configuration.port) took longer than "
                    + "\(configuration.connectTimeout)"
            )
        } catch {
            throw POP3ClientError(
                kind: .network,
                message: "could not connect to \(configuration.host) port \(configuration.port): \(Self.reason(error))"
            )
        }
        let reader = try await channel.eventLoop.submit {
            NIOLoopBound(
                try channel.pipeline.syncOperations.handler(type: InboundChunkReader.self),
                eventLoop: channel.eventLoop
            )
        }.get()
        let transport = POP3Transport(channel: channel, reader: reader, configuration: configuration, tls: tls)
        if implicit != nil {
            do {
                try await transport.awaitHandshake()
            } catch {
                transport.close()
                throw error
            }
        }
        return transport
    }

    /// The next chunk of input; throws `.timeout` if none arrives within the command timeout, and
    /// `.network` if the server closed the connection.
    func nextChunk() async throws -> ByteBuffer {
        let reader = self.reader
        let timeout = TimeAmount(self.configuration.commandTimeout)
        let chunk: ByteBuffer?
        let channel = self.channel
        do {
            // Cancelling the task closes the channel, which ends the wait.
            chunk = try await withTaskCancellationHandler {
                try await channel.eventLoop.flatSubmit { reader.value.nextChunk(timeout: timeout) }.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch _ where Task.isCancelled {
            throw CancellationError()
        } catch InboundChunkReader.Failure.timedOut {
            throw POP3ClientError(
                kind: .timeout,
                message: "the server did not answer within \(self.configuration.commandTimeout)"
            )
        } catch {
            throw POP3ClientError(kind: .network, message: "the connection to the server failed: \(error)")
        }
        guard let chunk else {
            if Task.isCancelled { throw CancellationError() }
            throw POP3ClientError(kind: .network, message: "the server closed the connection")
        }
        return chunk
    }

    func write(_ buffer: ByteBuffer) async throws {
        do {
            try await self.channel.writeAndFlush(buffer)
        } catch {
            throw POP3ClientError(kind: .network, message: "could not send to the server: \(error)")
        }
    }

    /// Puts TLS in front after the server's `+OK` to `STLS` (RFC 2595 §4). `unparsedBytes` is what
    /// the client holds beyond the `+OK` line: any such byte, or any byte already received and not
    /// yet handed out, was sent in plaintext after `+OK` and could be an injected command, so the
    /// upgrade is refused. The check and the insertion run in one event-loop turn, so nothing slips
    /// between them; later plaintext meets the TLS handler and fails the handshake.
    func startTLS(unparsedBytes: Int) async throws {
        guard let tls = self.tls else { preconditionFailure("STLS without a TLS setup") }
        let reader = self.reader
        let channel = self.channel
        let clean = try await channel.eventLoop.submit { () -> Bool in
            guard unparsedBytes == 0, reader.value.bufferedByteCount == 0 else { return false }
            try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(), position: .first)
            return true
        }.get()
        guard clean else {
            throw POP3ClientError(
                kind: .protocolViolation,
                message: "the server sent data right after agreeing to STLS, before TLS began; this could be an "
                    + "injection attack, so the connection was closed"
            )
        }
        try await self.awaitHandshake()
    }

    private func awaitHandshake() async throws {
        let reader = self.reader
        let timeout = TimeAmount(self.configuration.tlsHandshakeTimeout)
        let channel = self.channel
        do {
            try await withTaskCancellationHandler {
                try await channel.eventLoop.flatSubmit { reader.value.awaitHandshake(timeout: timeout) }.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch _ where Task.isCancelled {
            throw CancellationError()
        } catch {
            if let refusal = self.tls?.check?.failure { throw refusal }
            if case InboundChunkReader.Failure.timedOut = error {
                throw POP3ClientError(
                    kind: .timeout,
                    message: "the TLS handshake with \(self.configuration.host) did not finish within "
                        + "\(self.configuration.tlsHandshakeTimeout)"
                )
            }
            throw POP3ClientError(
                kind: .tls,
                message: "the TLS handshake with \(self.configuration.host) failed: \(error)"
            )
        }
    }

    func close() {
        self.channel.close(promise: nil)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(
            seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000
        )
    }
}
