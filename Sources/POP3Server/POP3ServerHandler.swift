import Logging
// POP3Server: one connection, served on its event loop (the postgres-nio handler shape).
import MailCore
import MailStore
import NIOCore
import POP3Core
import SASL

/// Serves one POP3 connection on the channel's event loop.
///
/// It frames input into lines (``LineFramer``, bounded), parses each with the session's
/// expectation, feeds it to ``ServerSession`` and performs the action that comes back. A
/// command that needs neither disk nor hashing (CAPA, STAT, LIST, UIDL, NOOP, DELE, RSET, a
/// QUIT without deletions, every error) is answered right there, into ``output``; the
/// answers to one burst of pipelined commands leave in one write and one flush.
///
/// Only slow work leaves the loop, through ``run(_:then:)``: checking a password, opening the
/// maildrop, reading a message, committing deletions. While it runs the phase is
/// ``Phase/waiting`` and no line is read.
///
/// Backpressure:
/// - Input: while the handler waits, or the socket does not take output, or a socket read's
///   worth of input is buffered, `read` is held back, so the peer's bytes wait in the kernel.
///   A line is at most ``POP3Limits/maximumLineLength`` (RFC 2449 §4).
/// - Output: answers are written once ``outputChunkSize`` has gathered, and lines are read
///   only while the channel is writable; a listing goes out a chunk at a time as the socket
///   takes it, and a message body streams with at most two chunks in flight
///   (``MessageStreamSink``). A peer that stops reading holds a bounded amount of memory.
///
/// The idle timer (RFC 1939 §3 autologout) counts from the last complete line or the last
/// output the socket took, so a slowloris peer that trickles bytes without ending a line is
/// cut off, and so is one that stops reading.
final class POP3ServerHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What the connection is doing.
    enum Phase {
        /// Reading and answering lines.
        case ready
        /// Slow work is under way (or a failed-login delay runs); lines wait.
        case waiting
        /// A listing too large for one write goes out as the socket takes it.
        case listing(ListingEncoder)
        /// The last response is written; the connection closes when it is out.
        case closing
        /// The channel is closed; only cleanup is left.
        case closed
    }

    /// Answers are written once this much has gathered, and listings and message bodies go
    /// out in pieces of about this size.
    static let outputChunkSize = 64 * 1024
    /// After an idle timeout, how long the autologout answer may take before the connection
    /// is closed anyway (a peer that does not read).
    static let autologoutGracePeriod: TimeAmount = .seconds(2)
    private static let emptyBuffer = ByteBuffer()

    let environment: POP3ConnectionEnvironment
    var logger: Logger
    let peer: PeerAddress
    var session: ServerSession
    private(set) var phase = Phase.ready
    /// Answers gathered for the next write.
    var output = POP3ServerHandler.emptyBuffer
    private(set) var context: ChannelHandlerContext?

    private var framer: LineFramer
    private var input = POP3ServerHandler.emptyBuffer
    private let maximumBufferedInput: Int
    private var readPending = false
    private var isProcessingInput = false
    /// True while `continueListing` runs (it may be called back from its own flush).
    private var isContinuingListing = false
    private var started = false
    /// Set by every socket read and every wait: the next line in TRANSACTION first records
    /// activity on the maildrop, which also tells whether a newer login took it over.
    private var touchDue = false

    private let idleTimeout: TimeAmount
    /// The last complete line, or the last output the socket took (idle timeout).
    var lastActivity = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?

    // The session's collaborators.
    var maildrop: (any Maildrop)?
    var mechanism: (any SASLServerMechanism)?
    /// The account a SASL exchange checked, as the account database spells it.
    var saslCanonicalUser: String?
    var loginTime: ContinuousClock.Instant?
    /// When the current login's check started (the login-latency histogram).
    var loginStarted: ContinuousClock.Instant?

    // Slow work in flight.
    private var operationID = 0
    private var operation: ((POP3ServerHandler, any Sendable) -> Void)?
    private var immediateOutcome: (id: Int, outcome: any Sendable)?
    /// True while ``run(_:then:)`` starts its task: an outcome now came without suspending.
    private var startingOperation = false
    /// The loop as a task executor, for the tasks of slow work.
    let taskExecutor: EventLoopTaskExecutor
    private var delay: Scheduled<Void>?
    /// The RETR/TOP body being streamed, if any (told when the channel closes).
    var stream: MessageStreamSink?
    private var releaseStarted = false
    private var releaseFinished = false
    private var finished = false
    private let onFinished: @Sendable () -> Void
    let onLogin: @Sendable (String) -> Void

    /// - Parameters:
    ///   - onLogin: called with the account name when a login succeeded.
    ///   - onFinished: called once, after the connection has closed and its maildrop is
    ///     released.
    init(
        environment: POP3ConnectionEnvironment,
        eventLoop: any EventLoop,
        peer: PeerAddress,
        implicitTLS: Bool,
        onLogin: @escaping @Sendable (String) -> Void = { _ in },
        onFinished: @escaping @Sendable () -> Void
    ) {
        let configuration = environment.configuration
        let limits = configuration.limits
        self.environment = environment
        self.peer = peer
        var logger = configuration.logger
        logger[metadataKey: "peer"] = "\(peer)"
        self.logger = logger
        self.session = ServerSession(
            configuration: environment.sessionConfiguration(peer: peer, implicitTLS: implicitTLS)
        )
        self.framer = LineFramer(maximumLineLength: limits.maximumLineLength)
        self.maximumBufferedInput = max(limits.maximumBufferedInputBytes, limits.maximumLineLength * 2)
        self.idleTimeout = .seconds(Int64(limits.idleTimeoutSeconds))
        self.onFinished = onFinished
        self.onLogin = onLogin
        self.taskExecutor = EventLoopTaskExecutor(eventLoop)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.start(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.channelClosed()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.channelClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        if self.input.readableBytes == 0 {
            self.input = bytes
        } else {
            self.input.writeBuffer(&bytes)
        }
        self.touchDue = true
        self.processInput(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flushOutput(context: context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.lastActivity = .now()
            if case .listing = self.phase { self.continueListing(context: context) }
            self.resume(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("connection error: \(String(describing: type(of: error)))")
        context.close(promise: nil)
    }

    /// Reads are held back while the handler cannot take more input (see the type's doc).
    func read(context: ChannelHandlerContext) {
        if self.canRead(context: context) {
            context.read()
        } else {
            self.readPending = true
        }
    }

    /// Input bytes buffered and not yet framed (STLS looks at them).
    var inputBytesBuffered: Int { self.input.readableBytes }

    private func canRead(context: ChannelHandlerContext) -> Bool {
        guard case .ready = self.phase else { return false }
        return self.input.readableBytes < self.maximumBufferedInput && context.channel.isWritable
    }

    // MARK: - Lines

    private func start(context: ChannelHandlerContext) {
        guard !self.started else { return }
        self.started = true
        self.lastActivity = .now()
        self.scheduleIdleTimer(context: context, in: self.idleTimeout)
        self.output.writePOP3Response(self.session.greeting)
        self.flushOutput(context: context)
    }

    /// Answers the lines buffered so far, until input runs out, the socket stops taking
    /// output, or slow work starts.
    private func processInput(context: ChannelHandlerContext) {
        guard !self.isProcessingInput else { return }
        self.isProcessingInput = true
        defer { self.isProcessingInput = false }
        while case .ready = self.phase, !self.session.isClosed {
            if self.output.readableBytes >= Self.outputChunkSize {
                self.flushOutput(context: context)
                guard context.channel.isWritable else { break }
            }
            guard let frame = self.framer.next(buffer: &self.input) else { break }
            switch frame {
            case .overlong(let error):
                self.perform(self.session.receivedMalformedLine(error))
            case .line(let line):
                self.lastActivity = .now()
                if self.touchDue, self.session.isInTransaction, let maildrop = self.maildrop {
                    self.touchDue = false
                    self.touch(maildrop, thenHandle: line)
                } else {
                    self.handle(line)
                }
            }
        }
        if self.input.readableBytes == 0 {
            // Do not keep a socket read's buffer for an idle session.
            self.input = Self.emptyBuffer
        } else if self.input.readerIndex > Self.outputChunkSize / 2 {
            self.input.discardReadBytes()
        }
    }

    /// Parses `line` with the session's expectation and performs the answer.
    func handle(_ line: ByteBuffer) {
        let action: ServerSession.Action
        do {
            let parsed = try CommandParser.parse(
                line: line,
                expecting: self.session.expectation,
                limits: self.session.configuration.limits
            )
            self.logger.trace("C: \(parsed.descriptionWithoutPII)")
            action = self.session.received(parsed)
        } catch {
            action = self.session.receivedMalformedLine(error)
        }
        self.perform(action)
    }

    /// Back on the loop after slow work or a stall: go on with buffered lines, send what is
    /// gathered, and let the socket be read again when there is room.
    private func resume(context: ChannelHandlerContext) {
        self.processInput(context: context)
        self.flushOutput(context: context)
        if self.readPending, self.canRead(context: context) {
            self.readPending = false
            context.read()
        }
    }

    // MARK: - Actions

    /// Performs one action of the session; slow work feeds its outcome back to the session
    /// later, and that action is performed in turn.
    func perform(_ action: ServerSession.Action) {
        guard let context = self.context else { return }
        if case .closed = self.phase { return }
        switch action {
        case .wait:
            break
        case .send(let response):
            self.output.writePOP3Response(response)
        case .sendListing(let header, let listing):
            self.output.writePOP3Response(header)
            self.writeListing(listing, context: context)
        case .sendContinuation(let bytes):
            self.output.writeStaticString("+ ")
            self.output.writeString(Base64.encode(bytes))
            self.output.writeStaticString("\r\n")
        case .streamMessage(let index, let header, let bodyLineLimit):
            self.streamMessage(index: index, header: header, bodyLineLimit: bodyLineLimit, context: context)
        case .verifyPassword(let user, let password):
            self.verifyPassword(user: user, password: password)
        case .verifyAPOP(let user, let digest, let timestamp):
            self.verifyAPOP(user: user, digest: digest, timestamp: timestamp)
        case .startSASL(let name, let initialResponse):
            self.startSASL(name: name, initialResponse: initialResponse)
        case .stepSASL(let response):
            self.stepSASL(response)
        case .rejectLogin(let user, let mechanism, let reason):
            self.loginFailed(user: user, mechanism: mechanism, reason: reason, failure: .invalidCredentials)
        case .openMaildrop(let user, let mechanism):
            self.openMaildrop(user: user, mechanism: mechanism)
        case .startTLS(let response):
            self.startTLS(response, context: context)
        case .commitDeletions(let indices):
            self.commitDeletions(indices)
        case .sendAndClose(let response):
            self.output.writePOP3Response(response)
            self.closeAfterOutput(context: context)
        case .close:
            self.closeAfterOutput(context: context)
        }
    }

    private func writeListing(_ listing: Listing, context: ChannelHandlerContext) {
        var encoder = ListingEncoder(listing)
        encoder.encode(into: &self.output, atLeast: Self.outputChunkSize)
        if !encoder.isFinished {
            self.phase = .listing(encoder)
            self.continueListing(context: context)
        }
    }

    /// Writes listing chunks while the socket takes them; writability brings it back.
    ///
    /// A flush can report writability at once, and so call back in here while the loop runs:
    /// that inner call returns, and the encoder is taken from the phase only after the flush, so
    /// no line is written twice (a 10,000-line UIDL once repeated from its first line).
    private func continueListing(context: ChannelHandlerContext) {
        guard !self.isContinuingListing else { return }
        self.isContinuingListing = true
        defer { self.isContinuingListing = false }
        while case .listing = self.phase {
            self.flushOutput(context: context)
            guard context.channel.isWritable, case .listing(var encoder) = self.phase else { return }
            encoder.encode(into: &self.output, atLeast: Self.outputChunkSize)
            self.phase = encoder.isFinished ? .ready : .listing(encoder)
        }
    }

    /// Writes what is gathered and closes the connection once it is out.
    private func closeAfterOutput(context: ChannelHandlerContext) {
        self.phase = .closing
        self.releaseMaildrop()
        // Even with nothing gathered, the (empty) write completes only after earlier ones.
        let channel = context.channel
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        context.writeAndFlush(self.wrapOutboundOut(self.output), promise: written)
        self.output = Self.emptyBuffer
    }

    /// Writes and flushes the gathered answers.
    func flushOutput(context: ChannelHandlerContext) {
        guard self.output.readableBytes > 0 else { return }
        // Taken before the write: a flush can report writability at once and call back in
        // here (through `resume`), which would otherwise write the same bytes a second time.
        let output = self.output
        self.output = Self.emptyBuffer
        context.writeAndFlush(self.wrapOutboundOut(output), promise: nil)
    }

    // MARK: - Slow work

    /// Runs `work` and hands its outcome to `completion` on the loop; lines wait meanwhile
    /// (``Phase/waiting``).
    ///
    /// The work starts on this thread (`Task.immediate`) with the loop as its task executor:
    /// when it does not suspend (a maildrop touch, a store answering from memory) the outcome
    /// is handled before this returns, with no thread hop at all; when it suspends (NIO's
    /// thread pool, the password pool), it resumes on the loop, one hop back.
    func run<Outcome: Sendable>(
        _ work: @escaping @Sendable () async -> Outcome,
        then completion: @escaping (POP3ServerHandler, Outcome) -> Void
    ) {
        guard let context = self.context else { return }
        self.operationID &+= 1
        let id = self.operationID
        self.phase = .waiting
        self.operation = { handler, outcome in
            // safe: only this function stores an operation, with its own Outcome type.
            completion(handler, outcome as! Outcome)
        }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.startingOperation = true
        self.startTask {
            let outcome = await work()
            handler.value.workFinished(id: id, outcome: outcome)
        }
        self.startingOperation = false
        if let finished = self.immediateOutcome {
            self.immediateOutcome = nil
            self.operationFinished(id: finished.id, outcome: finished.outcome, immediate: true)
        }
    }

    /// Starts `body` on this thread, with the loop as its task executor.
    func startTask(_ body: @escaping @Sendable () async -> Void) {
        if #available(macOS 26, *) {
            Task.immediate(executorPreference: self.taskExecutor, operation: body)
        } else {
            Task(executorPreference: self.taskExecutor, operation: body)
        }
    }

    /// On the loop, from the task of ``run(_:then:)``.
    private func workFinished(id: Int, outcome: any Sendable) {
        if self.startingOperation {
            // Still inside `Task.immediate`: `run` hands the outcome over when it returns.
            self.immediateOutcome = (id, outcome)
        } else {
            self.operationFinished(id: id, outcome: outcome, immediate: false)
        }
    }

    private func operationFinished(id: Int, outcome: any Sendable, immediate: Bool) {
        guard id == self.operationID, let completion = self.operation else { return }
        self.operation = nil
        if case .waiting = self.phase {
            self.phase = .ready
            // Time has passed: the next line checks the maildrop lease again.
            if !immediate { self.touchDue = true }
        }
        completion(self, outcome)
        switch self.phase {
        case .closing, .closed:
            self.releaseMaildrop()
        case .ready, .waiting, .listing:
            if !immediate, let context = self.context { self.resume(context: context) }
        }
    }

    /// Waits `amount` on the loop (a failed-login delay), then calls `completion`.
    func afterDelay(_ amount: TimeAmount, then completion: @escaping (POP3ServerHandler) -> Void) {
        guard let context = self.context else { return }
        self.operationID &+= 1
        let id = self.operationID
        self.phase = .waiting
        self.operation = { handler, _ in completion(handler) }
        self.delay = context.eventLoop.assumeIsolated().scheduleTask(in: amount) {
            self.delay = nil
            self.operationFinished(id: id, outcome: (), immediate: false)
        }
    }

    // MARK: - Idle timeout and close

    private func scheduleIdleTimer(context: ChannelHandlerContext, in amount: TimeAmount) {
        self.idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: amount) {
            self.idleTimerFired()
        }
    }

    private func idleTimerFired() {
        guard let context = self.context else { return }
        let idle = NIODeadline.now() - self.lastActivity
        guard idle >= self.idleTimeout else {
            self.scheduleIdleTimer(context: context, in: self.idleTimeout - idle)
            return
        }
        switch self.phase {
        case .ready:
            self.logger.info("idle timeout peer=\(self.peer)")
            self.perform(self.session.timedOut())
            // A peer that does not read would keep the answer, and the connection, forever.
            self.closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.autologoutGracePeriod) {
                self.context?.close(promise: nil)
            }
        case .waiting, .listing, .closing:
            // Output the peer does not take, or work that never ends: close without UPDATE.
            self.logger.info("idle timeout peer=\(self.peer)")
            context.close(promise: nil)
        case .closed:
            break
        }
    }

    /// The channel is gone: stop timers and waits; release the maildrop once no slow work
    /// runs any more.
    private func channelClosed() {
        if case .closed = self.phase { return }
        self.phase = .closed
        self.idleTimer?.cancel()
        self.closeTimer?.cancel()
        if let delay = self.delay {
            delay.cancel()
            self.delay = nil
            self.operation = nil
        }
        self.stream?.connectionClosed()
        self.releaseMaildrop()
        self.finishIfDone()
    }

    /// Once the session is over (its last answer written, or the channel gone) and no slow
    /// work runs any more: releases the maildrop and writes the logout line. It does not wait
    /// for the channel to close (a TLS shutdown may take seconds), so a new login can take
    /// the maildrop at once.
    private func releaseMaildrop() {
        switch self.phase {
        case .closing, .closed: break
        case .ready, .waiting, .listing: return
        }
        guard self.operation == nil, !self.releaseStarted else { return }
        self.releaseStarted = true
        guard let maildrop = self.maildrop else {
            self.maildropReleased()
            return
        }
        self.maildrop = nil
        let statistics = self.session.statistics
        let duration = self.loginTime.map { ContinuousClock.now - $0 } ?? .zero
        let logger = self.logger
        let line = LoginLog.logout(
            user: statistics.user ?? "-",
            retrieved: statistics.retrieved,
            deleted: statistics.deleted,
            expired: statistics.expired,
            bytes: statistics.bytesSent,
            duration: duration
        )
        let handler = NIOLoopBound(self, eventLoop: self.taskExecutor.eventLoop)
        self.startTask {
            await maildrop.close()
            logger.info("\(line)")
            handler.value.maildropReleased()
        }
    }

    private func maildropReleased() {
        self.releaseFinished = true
        self.finishIfDone()
    }

    /// Tells the server the connection is gone, once: after the channel closed and the
    /// maildrop was released.
    private func finishIfDone() {
        guard case .closed = self.phase, self.releaseFinished, !self.finished else { return }
        self.finished = true
        self.onFinished()
    }
}
