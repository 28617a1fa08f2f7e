// POP3Server: the one function that builds a connection's channel pipeline (GUIDE B6).
import NIOCore
import NIOSSL
import POP3Core

/// The channel of one POP3 connection as the session loop sees it.
typealias POP3AsyncChannel = NIOAsyncChannel<POP3InboundFrame, ByteBuffer>

/// A connection ready for its session loop.
struct POP3Connection: Sendable {
    var asyncChannel: POP3AsyncChannel
    var framer: NIOLoopBound<POP3FramingHandler>
    var implicitTLS: Bool
}

/// Builds the pipeline of an accepted connection, synchronously on its event loop:
///
/// 1. `NIOSSLServerHandler` when the listener is implicit-TLS (STLS adds it later, at `.first`);
/// 2. ``POP3FramingHandler``: CRLF framing with the line limits, the STLS gate, the idle timer;
/// 3. the `NIOAsyncChannel` bridge to the session loop, which parses lines with the session's
///    expectation and writes encoded responses (`ByteBuffer`).
///
/// Backpressure: the bridge stops reading from the socket when a few frames are waiting, and
/// each response write is awaited by the loop.
func configurePOP3ServerPipeline(
    channel: any Channel,
    implicitTLS sslContext: NIOSSLContext?,
    limits: POP3Limits
) throws -> POP3Connection {
    let operations = channel.pipeline.syncOperations
    if let sslContext {
        try operations.addHandler(NIOSSLServerHandler(context: sslContext))
    }
    let framer = POP3FramingHandler(limits: limits)
    try operations.addHandler(framer)
    let asyncChannel = try POP3AsyncChannel(
        wrappingChannelSynchronously: channel,
        configuration: .init(backPressureStrategy: .init(lowWatermark: 4, highWatermark: 32))
    )
    return POP3Connection(
        asyncChannel: asyncChannel,
        framer: NIOLoopBound(framer, eventLoop: channel.eventLoop),
        implicitTLS: sslContext != nil
    )
}
