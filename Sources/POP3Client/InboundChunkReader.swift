// The bridge from the channel to the async client: bytes are read from the socket only when the
// client asks for the next chunk (autoRead is off), so a slow consumer holds the sender back
// through TCP instead of buffering a message in memory.

import NIOCore
import NIOSSL
import NIOTLS

/// Hands inbound chunks to the async side one request at a time, with a deadline per request.
///
/// Lives on the event loop. Everything it buffers comes from a single `read()` it issued, so
/// at most a few chunks are held at any time.
final class InboundChunkReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    enum Failure: Error {
        /// No byte arrived within the deadline.
        case timedOut
    }

    private var buffered = CircularBuffer<ByteBuffer>()
    private var pending: EventLoopPromise<ByteBuffer?>?
    private var pendingTimeout: Scheduled<Void>?
    private var handshake: EventLoopPromise<Void>?
    private var handshakeTimeout: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// Kept after the handler is removed (the channel closed), to answer later calls.
    private var eventLoop: (any EventLoop)?
    private var error: (any Error)?
    private var inputClosed = false

    /// Octets received since the handler was added (counted on arrival, before any TLS handler
    /// that was added in front of it later is involved: used for the STLS injection check).
    private(set) var bufferedByteCount = 0

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.eventLoop = context.eventLoop
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = self.unwrapInboundIn(data)
        if let pending = self.takePending() {
            pending.succeed(chunk)
        } else {
            self.bufferedByteCount += chunk.readableBytes
            self.buffered.append(chunk)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.inputClosed = true
        self.takePending()?.succeed(nil)
        self.failHandshake(self.error ?? ChannelError.eof)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            self.handshakeTimeout?.cancel()
            self.handshakeTimeout = nil
            self.handshake?.succeed(())
            self.handshake = nil
        } else if let event = event as? ChannelEvent, event == .inputClosed {
            self.inputClosed = true
            self.takePending()?.succeed(nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.error == nil { self.error = error }
        self.takePending()?.fail(error)
        self.failHandshake(error)
        context.close(promise: nil)
    }

    /// The next chunk, `nil` at end of input. Fails with `Failure.timedOut` (and closes the
    /// channel) if nothing arrives within `timeout`.
    func nextChunk(timeout: TimeAmount) -> EventLoopFuture<ByteBuffer?> {
        guard let eventLoop = self.eventLoop else { preconditionFailure("reader used before it was added") }
        precondition(self.pending == nil, "one read at a time")
        // What arrived before a close or an error is handed out first.
        if let chunk = self.buffered.popFirst() {
            self.bufferedByteCount -= chunk.readableBytes
            return eventLoop.makeSucceededFuture(chunk)
        }
        if let error = self.error { return eventLoop.makeFailedFuture(error) }
        if self.inputClosed { return eventLoop.makeSucceededFuture(nil) }
        guard let context = self.context else {
            return self.closedFuture(of: ByteBuffer?.self)
        }
        let promise = context.eventLoop.makePromise(of: ByteBuffer?.self)
        self.pending = promise
        self.pendingTimeout = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, let pending = self.pending, pending.futureResult === promise.futureResult else { return }
            self.pending = nil
            self.pendingTimeout = nil
            self.error = Failure.timedOut
            pending.fail(Failure.timedOut)
            self.context?.close(promise: nil)
        }
        context.read()
        return promise.futureResult
    }

    /// Completes when the TLS handler in front reports a finished handshake; fails with
    /// `Failure.timedOut` (closing the channel) after `timeout`, or with the handshake's error.
    func awaitHandshake(timeout: TimeAmount) -> EventLoopFuture<Void> {
        guard let context = self.context else {
            return self.closedFuture(of: Void.self)
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        if let error = self.error {
            promise.fail(error)
            return promise.futureResult
        }
        self.handshake = promise
        self.handshakeTimeout = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self else { return }
            self.error = self.error ?? Failure.timedOut
            self.failHandshake(Failure.timedOut)
            self.context?.close(promise: nil)
        }
        // autoRead is off: the TLS handler needs a first read to see the server's handshake.
        context.read()
        return promise.futureResult
    }

    /// The answer for calls after the channel closed and the handler left the pipeline.
    private func closedFuture<T>(of: T.Type) -> EventLoopFuture<T> {
        guard let eventLoop = self.eventLoop else { preconditionFailure("reader used before it was added") }
        return eventLoop.makeFailedFuture(self.error ?? ChannelError.ioOnClosedChannel)
    }

    @discardableResult
    private func takePending() -> EventLoopPromise<ByteBuffer?>? {
        self.pendingTimeout?.cancel()
        self.pendingTimeout = nil
        defer { self.pending = nil }
        return self.pending
    }

    private func failHandshake(_ error: any Error) {
        self.handshakeTimeout?.cancel()
        self.handshakeTimeout = nil
        self.handshake?.fail(error)
        self.handshake = nil
    }
}
