// LMTPServer: one connection, driving the pure LMTPServerSession on the event loop.
import LMTPCore
import Logging
import NIOCore

/// The handler of one LMTP connection: it feeds the bytes it reads to an
/// ``LMTPServerSession`` and performs the actions it gets back, on the channel's event loop.
///
/// - Replies are written as they are made and flushed when the input holds no further
///   complete command, and before slow work (RFC 2920 §3.2, RFC 2033 §5).
/// - Recipient lookups and deliveries run as tasks off the loop; meanwhile the handler does not
///   feed the session and stops reading once ``LMTPLimits/maximumBufferedInputBytes`` are
///   buffered, so a pipelining client is bounded by what it may have in flight.
/// - It stops reading, and stops answering, while the socket is not writable, so a client
///   that sends commands but does not read the replies cannot make the server buffer them.
/// - The idle timer restarts on every action and on every read of message data; it does not
///   run while the shell works.
final class LMTPServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: LMTPServerSession
    private let agent: LMTPDeliveryAgent
    private let logger: Logger
    private var input = ByteBuffer()
    private var context: ChannelHandlerContext?
    private var readPending = false
    private var unflushed = false
    private var closing = false
    private var idleTimer: Scheduled<Void>?

    init(configuration: LMTPServerSession.Configuration, agent: LMTPDeliveryAgent, logger: Logger) {
        self.session = LMTPServerSession(configuration: configuration)
        self.agent = agent
        self.logger = logger
    }

    private var limits: LMTPLimits { session.configuration.limits }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private var started = false

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        write(session.greeting, context: context)
        sendPending(context: context)
        restartIdleTimer(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        idleTimer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !closing else { return }
        input.writeBuffer(&bytes)
        if session.isReceivingData { restartIdleTimer(context: context) }
        process(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        sendPending(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            process(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("closing LMTP connection: \(String(describing: type(of: error)))")
        closing = true
        context.close(promise: nil)
    }

    /// Reads are held back while the session waits for slow work with a full input buffer,
    /// and while the socket is not writable.
    func read(context: ChannelHandlerContext) {
        if mayRead(context: context) {
            context.read()
        } else {
            readPending = true
        }
    }

    private func mayRead(context: ChannelHandlerContext) -> Bool {
        guard context.channel.isWritable else { return false }
        return input.readableBytes < limits.maximumBufferedInputBytes
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard readPending, mayRead(context: context) else { return }
        readPending = false
        context.read()
    }

    // MARK: Shutdown

    /// The server is stopping: closes now between transactions, otherwise after this one.
    func shutdown() {
        guard let context, !closing else { return }
        perform(session.shutdown(), context: context)
    }

    // MARK: Driving the session

    private func process(context: ChannelHandlerContext) {
        while !closing, !session.isAwaitingShell {
            guard context.channel.isWritable else {
                // Resumed by channelWritabilityChanged.
                sendPending(context: context)
                return
            }
            let action = session.next(input: &input)
            if case .readMore = action {
                if input.readerIndex > 0 { input.discardReadBytes() }
                sendPending(context: context)
                resumeReading(context: context)
                return
            }
            perform(action, context: context)
        }
    }

    private func perform(_ action: LMTPServerSession.Action, context: ChannelHandlerContext) {
        switch action {
        case .readMore:
            break
        case .send(let reply):
            write(reply, context: context)
            restartIdleTimer(context: context)
        case .sendAndClose(let reply):
            write(reply, context: context)
            closeAfterFlush(context: context)
        case .close:
            closing = true
            context.close(promise: nil)
        case .checkRecipient(let mailbox):
            beginWork(context: context)
            let agent = self.agent
            let promise = context.eventLoop.makePromise(of: LMTPServerSession.RecipientCheck.self)
            promise.completeWithTask { await agent.findAccount(for: mailbox) }
            promise.futureResult.assumeIsolated().whenSuccess { result in
                self.finishWork { context in self.session.recipientChecked(result) }
            }
        case .deliver(let request):
            beginWork(context: context)
            let agent = self.agent
            let promise = context.eventLoop.makePromise(of: LMTPServerSession.DeliveryOutcome.self)
            promise.completeWithTask { await agent.deliver(request) }
            promise.futureResult.assumeIsolated().whenSuccess { outcome in
                self.finishWork { context in self.session.deliveryFinished(outcome) }
            }
        }
    }

    /// Before slow work: the replies so far go out now (RFC 2033 §5), and the idle timer waits.
    private func beginWork(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        sendPending(context: context)
    }

    /// After slow work, on the event loop: the session takes the outcome, and input processing
    /// goes on. Nothing happens if the connection closed meanwhile (a stored message whose reply
    /// was lost is delivered again by the client later: a duplicate, never a loss).
    private func finishWork(_ outcome: (ChannelHandlerContext) -> LMTPServerSession.Action) {
        guard let context, !closing else { return }
        perform(outcome(context), context: context)
        restartIdleTimer(context: context)
        process(context: context)
        resumeReading(context: context)
    }

    // MARK: Output

    private func write(_ reply: Reply, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeLMTPReply(reply)
        context.write(wrapOutboundOut(buffer), promise: nil)
        unflushed = true
    }

    private func sendPending(context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    /// Seconds a closing connection may take to send its last reply to a peer that does not
    /// read, before it is closed regardless.
    static let closeTimeout: TimeAmount = .seconds(5)

    /// Closes once everything written so far has been sent (or after ``closeTimeout``).
    private func closeAfterFlush(context: ChannelHandlerContext) {
        closing = true
        idleTimer?.cancel()
        unflushed = false
        let forced = context.eventLoop.assumeIsolated().scheduleTask(in: Self.closeTimeout) {
            context.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
            forced.cancel()
            context.close(promise: nil)
        }
    }

    // MARK: Idle timer

    private func restartIdleTimer(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        guard !closing else { return }
        let seconds = Int64(limits.idleTimeoutSeconds)
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: .seconds(seconds)) {
            loopBound.value.idleTimeout()
        }
    }

    private func idleTimeout() {
        guard let context, !closing, !session.isAwaitingShell else { return }
        perform(session.timedOut(), context: context)
    }
}
