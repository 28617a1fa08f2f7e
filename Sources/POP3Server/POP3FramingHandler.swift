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
final class POP3FramingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = POP3InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var framer: LineFramer
    private var buffer = ByteBuffer()
    private var pausedForSTLS = false
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

    private func frameBufferedInput(context: ChannelHandlerContext) {
        while !self.pausedForSTLS, let frame = self.framer.next(buffer: &self.buffer) {
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
        return 0
    }

    /// The STLS line was refused or was not a command (a SASL line): frame input again.
    func resume() {
        guard self.pausedForSTLS, let context = self.context else { return }
        self.pausedForSTLS = false
        self.frameBufferedInput(context: context)
    }
}
