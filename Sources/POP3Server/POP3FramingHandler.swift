// POP3Server: line framing with limits, the STLS gate and the idle timer, on the event loop.
import NIOCore
import NIOSSL
import POP3Core

/// What the framing handler passes to the session loop.
enum POP3InboundFrame: Sendable {
    /// A complete line (without CRLF). `isSTLSGate` is true for a line reading `STLS`: the
    /// handler then stops framing until the loop has either installed TLS or resumed it.
    case line(ByteBuffer, isSTLSGate: Bool)
    /// A line over the limit; its rest is being discarded (RFC 2449 §4).
    case overlong(ExceededLineLengthLimit)
    /// No complete line for the idle timeout (RFC 1939 §3 autologout).
    case idleTimeout
}

/// Frames input into lines (bounded, GUIDE B4), holds input back after an STLS line so no
/// plaintext sent after it is ever executed (RFC 2595 §4, GUIDE B5), and runs the idle timer.
///
/// The timer restarts on every complete line and every completed write, so a slowloris peer
/// that trickles bytes without ending a line is cut off, and so is one that stops reading.
///
/// Backpressure: one socket read may hold thousands of short lines. The handler passes on at
/// most ``maximumFramesPerBatch`` of them and keeps the rest as bytes; the next batch goes out
/// when the session loop asks for more (a `read` from the async bridge). Only when no whole
/// line is left does it let that `read` reach the socket. So memory per connection is bounded
/// by a few socket reads, not by how many lines they hold.
final class POP3FramingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = POP3InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Frames passed on per batch; below the async bridge's high watermark.
    static let maximumFramesPerBatch = 16

    private var framer: LineFramer
    private var buffer = ByteBuffer()
    private var pausedForSTLS = false
    /// A batch ended with whole lines still in `buffer`.
    private var moreLinesBuffered = false
    private let maximumBufferedBytes: Int
    private let idleTimeout: TimeAmount
    private var idleTimer: Scheduled<Void>?
    private var forcedClose: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(limits: POP3Limits) {
        self.framer = LineFramer(maximumLineLength: limits.maximumLineLength)
        self.maximumBufferedBytes = max(limits.maximumBufferedInputBytes, limits.maximumLineLength * 2)
        self.idleTimeout = .seconds(Int64(limits.idleTimeoutSeconds))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.restartIdleTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleTimer?.cancel()
        self.forcedClose?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.idleTimer?.cancel()
        self.forcedClose?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        self.buffer.writeBuffer(&bytes)
        if self.pausedForSTLS {
            // Bytes after STLS are refused by the loop; only make sure they stay bounded.
            if self.buffer.readableBytes > self.maximumBufferedBytes { context.close(promise: nil) }
            return
        }
        self.frameBufferedInput(context: context)
    }

    /// Passes on up to one batch of frames; sets ``moreLinesBuffered`` when it stopped early.
    private func frameBufferedInput(context: ChannelHandlerContext) {
        var fired = 0
        self.moreLinesBuffered = false
        while !self.pausedForSTLS {
            guard fired < Self.maximumFramesPerBatch else {
                self.moreLinesBuffered = true
                break
            }
            guard let frame = self.framer.next(buffer: &self.buffer) else { break }
            fired += 1
            switch frame {
            case .line(let line):
                let gate = Self.isSTLS(line)
                self.pausedForSTLS = gate
                self.restartIdleTimer(context: context)
                context.fireChannelRead(self.wrapInboundOut(.line(line, isSTLSGate: gate)))
            case .overlong(let error):
                context.fireChannelRead(self.wrapInboundOut(.overlong(error)))
            }
        }
        self.buffer.discardReadBytes()
    }

    /// The session loop wants more input. Serve it from buffered lines if there are any, and
    /// ask again on the next tick (through the bridge, which holds the request while the loop
    /// is busy); go to the socket only when no whole line is buffered.
    func read(context: ChannelHandlerContext) {
        guard self.moreLinesBuffered, !self.pausedForSTLS else {
            context.read()
            return
        }
        self.frameBufferedInput(context: context)
        context.fireChannelReadComplete()
        if self.pausedForSTLS {
            // An STLS line: `startTLS` or `resume` asks for input again.
            return
        }
        if self.moreLinesBuffered {
            self.readOnNextTick(context: context)
        } else {
            context.read()
        }
    }

    /// Issues a read from the tail of the pipeline on the next tick: through the async bridge,
    /// which holds it while the session loop has enough, then back to ``read(context:)``.
    private func readOnNextTick(context: ChannelHandlerContext) {
        let channel = context.channel
        context.eventLoop.execute { channel.read() }
    }

    /// `STLS` with optional trailing spaces, any case.
    private static func isSTLS(_ line: ByteBuffer) -> Bool {
        var bytes = line.readableBytesView[...]
        while bytes.last == UInt8(ascii: " ") { bytes = bytes.dropLast() }
        guard bytes.count == 4 else { return false }
        return zip(bytes, "STLS".utf8).allSatisfy { $0 & 0xDF == $1 }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let promise = promise ?? context.eventLoop.makePromise()
        promise.futureResult.assumeIsolated().whenSuccess { [weak self] in
            guard let self, let context = self.context else { return }
            self.restartIdleTimer(context: context)
        }
        context.write(data, promise: promise)
    }

    private func restartIdleTimer(context: ChannelHandlerContext) {
        self.idleTimer?.cancel()
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.idleTimer = context.eventLoop.scheduleTask(in: self.idleTimeout) {
            loopBound.value.idleTimeoutFired()
        }
    }

    private func idleTimeoutFired() {
        guard let context = self.context else { return }
        context.fireChannelRead(self.wrapInboundOut(.idleTimeout))
        context.fireChannelReadComplete()
        // If the loop is stuck on a write the peer never reads, close anyway.
        let channel = context.channel
        self.forcedClose = context.eventLoop.scheduleTask(in: .seconds(2)) {
            channel.close(promise: nil)
        }
    }

    // MARK: - Called by the session loop, on the event loop

    /// STLS accepted: if no byte arrived after the STLS line, write `response` in plaintext
    /// and put TLS under everything. Returns the number of bytes held back; when it is not
    /// zero nothing was written and the caller closes (injection defence).
    func startTLS(response: ByteBuffer, context sslContext: NIOSSLContext) -> Int {
        guard let context = self.context else { return 0 }
        let held = self.buffer.readableBytes
        guard held == 0 else { return held }
        context.writeAndFlush(self.wrapOutboundOut(response), promise: nil)
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext), position: .first)
        } catch {
            context.close(promise: nil)
            return 0
        }
        self.pausedForSTLS = false
        // The STLS line may have come from buffered input, with no socket read outstanding.
        self.readOnNextTick(context: context)
        return 0
    }

    /// The STLS line was refused or was not a command (a SASL line): frame input again.
    func resume() {
        guard self.pausedForSTLS, let context = self.context else { return }
        self.pausedForSTLS = false
        self.frameBufferedInput(context: context)
        // Frames fired outside a socket read reach the async bridge only with a read-complete.
        context.fireChannelReadComplete()
        if !self.pausedForSTLS { self.readOnNextTick(context: context) }
    }
}
