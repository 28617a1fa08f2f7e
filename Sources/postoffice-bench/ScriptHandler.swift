// One client connection driven by scripts: send a command (or many, pipelined), read the responses
// it must produce, go on. Everything runs on the channel's event loop; no Swift concurrency and
// no copies of message bodies, so the generator stays far cheaper than the servers it drives.

import NIOCore
import NIOPosix
import NIOSSL

/// One step: optionally write `command` (which may hold several pipelined commands), then read
/// `responses` responses shaped as `expecting`.
struct ScriptStep: Sendable {
    var command: ByteBuffer?
    var expecting: ExpectedResponse
    var responses = 1
    /// Whether the step's last response is handed back by `run`.
    var keep = false
    /// Whether a `-ERR` answer ends the script with an error.
    var mustSucceed = true

    static func greeting() -> ScriptStep {
        ScriptStep(command: nil, expecting: .statusLine)
    }

    static func command(_ text: String, expecting: ExpectedResponse = .statusLine, keep: Bool = false) -> ScriptStep {
        ScriptStep(command: ByteBuffer(string: text + "\r\n"), expecting: expecting, keep: keep)
    }

    /// `count` copies of `text` written at once (RFC 2449 §6.6 pipelining), each answered by a
    /// status line.
    static func pipelined(_ text: String, count: Int) -> ScriptStep {
        var buffer = ByteBuffer()
        let line = text + "\r\n"
        buffer.reserveCapacity(line.utf8.count * count)
        for _ in 0..<count {
            buffer.writeString(line)
        }
        return ScriptStep(command: buffer, expecting: .statusLine, responses: count)
    }

    /// Greeting, USER and PASS (RFC 1939 §7).
    static func login(_ account: Account) -> [ScriptStep] {
        [.greeting(), .command("USER " + account.user), .command("PASS " + account.password)]
    }
}

enum ScriptError: Error, CustomStringConvertible {
    case errorResponse(step: Int, line: String)
    case violation(ProtocolViolation)
    case closedByServer
    case timedOut
    case busy

    var description: String {
        switch self {
        case .errorResponse(let step, let line):
            return "step \(step) answered \(line)"
        case .violation(let violation):
            return violation.description
        case .closedByServer:
            return "the server closed the connection"
        case .timedOut:
            return "timed out"
        case .busy:
            return "a script is already running on this connection"
        }
    }
}

/// The handler at the end of a bench connection's pipeline.
final class ScriptHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    /// Bytes received and not yet consumed (nil when none, so idle connections hold no buffer).
    private var received: ByteBuffer?
    private var reader = ResponseReader()
    private var steps: [ScriptStep] = []
    private var stepIndex = 0
    private var remainingResponses = 0
    private var kept: [ResponseEvent] = []
    private var promise: EventLoopPromise<[ResponseEvent]>?
    private var deadline: Scheduled<Void>?
    private var isClosed = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Runs `steps`; the future holds the kept responses, in order. Call on the event loop.
    func run(_ steps: [ScriptStep], timeout: TimeAmount) -> EventLoopFuture<[ResponseEvent]> {
        guard let context = self.context else { preconditionFailure("run before the handler was added") }
        let loop = context.eventLoop
        guard self.promise == nil else { return loop.makeFailedFuture(ScriptError.busy) }
        guard !self.isClosed else { return loop.makeFailedFuture(ScriptError.closedByServer) }
        let promise = loop.makePromise(of: [ResponseEvent].self)
        self.promise = promise
        self.steps = steps
        self.stepIndex = 0
        self.kept = []
        let bound = NIOLoopBound(self, eventLoop: loop)
        self.deadline = loop.scheduleTask(in: timeout) { bound.value.finish(.failure(ScriptError.timedOut)) }
        self.startStep()
        self.process()
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        if var pending = self.received {
            self.received = nil
            pending.writeBuffer(&incoming)
            self.received = pending
        } else {
            self.received = incoming
        }
        self.process()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.isClosed = true
        self.finish(.failure(ScriptError.closedByServer))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.finish(.failure(error))
        context.close(promise: nil)
    }

    private func startStep() {
        guard self.promise != nil else { return }
        guard self.stepIndex < self.steps.count else {
            self.finish(.success(self.kept))
            return
        }
        let step = self.steps[self.stepIndex]
        self.remainingResponses = step.responses
        if let command = step.command, let context = self.context {
            context.writeAndFlush(self.wrapOutboundOut(command), promise: nil)
        }
    }

    /// Reads every complete response in the received bytes, advancing the script.
    private func process() {
        guard var buffer = self.received else { return }
        self.received = nil
        defer {
            if buffer.readableBytes > 0 {
                if buffer.readerIndex > 65536 { buffer.discardReadBytes() }
                self.received = buffer
            }
        }
        while self.promise != nil && self.stepIndex < self.steps.count {
            let step = self.steps[self.stepIndex]
            let event: ResponseEvent?
            do {
                event = try self.reader.next(&buffer, expecting: step.expecting)
            } catch {
                self.finish(.failure(ScriptError.violation(error)))
                self.context?.close(promise: nil)
                return
            }
            guard let event else { return }
            if step.mustSucceed && !event.isOK {
                self.finish(.failure(ScriptError.errorResponse(step: self.stepIndex, line: event.statusText)))
                return
            }
            self.remainingResponses -= 1
            if self.remainingResponses == 0 {
                if step.keep { self.kept.append(event) }
                self.stepIndex += 1
                self.startStep()
            }
        }
    }

    fileprivate func finish(_ result: Result<[ResponseEvent], any Error>) {
        guard let promise = self.promise else { return }
        self.promise = nil
        self.deadline?.cancel()
        self.deadline = nil
        self.steps = []
        self.kept = []
        promise.completeWith(result)
    }
}

/// Where and how the bench connects.
struct Target: Sendable {
    var address: SocketAddress
    /// Implicit TLS (RFC 8314 §3.3) when set.
    var tls: NIOSSLContext?
    var serverName: String?

    static func resolve(host: String, port: Int) throws -> SocketAddress {
        if let address = try? SocketAddress(ipAddress: host, port: port) { return address }
        return try SocketAddress.makeAddressResolvingHost(host, port: port)
    }

    /// A TLS client context trusting the CA certificates in `caFile`, or none at all when `insecure`.
    static func tlsContext(caFile: String?, insecure: Bool) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if insecure {
            configuration.certificateVerification = .none
        } else if let caFile {
            configuration.trustRoots = .file(caFile)
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Connects a new channel on `loop`, its pipeline ending in a `ScriptHandler`.
    func connect(on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        let tls = self.tls
        let serverName = self.serverName
        return ClientBootstrap(group: loop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handler = try NIOSSLClientHandler(context: tls, serverHostname: serverName)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandler(ScriptHandler())
                }
            }
            .connect(to: self.address)
    }
}

extension Channel {
    /// Runs a script on this bench connection. Call on the channel's event loop.
    func runScript(_ steps: [ScriptStep], timeout: TimeAmount = .seconds(60)) -> EventLoopFuture<[ResponseEvent]> {
        self.eventLoop.preconditionInEventLoop()
        do {
            return try self.pipeline.syncOperations.handler(type: ScriptHandler.self).run(steps, timeout: timeout)
        } catch {
            return self.eventLoop.makeFailedFuture(error)
        }
    }
}
