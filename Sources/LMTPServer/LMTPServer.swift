// LMTPServer: listeners, connections and graceful shutdown as a swift-service-lifecycle Service.
import FileIO
import LMTPCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
public import ServiceLifecycle
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An LMTP server (RFC 2033) that delivers into a ``MailStore``: how Postfix hands mail to
/// PostOffice (`virtual_transport = lmtp:unix:/path` or `lmtp:inet:127.0.0.1:24`).
///
/// ```swift
/// let lmtp = LMTPServer(configuration: LMTPServerConfiguration(
///     endpoints: [.unix(path: "/var/spool/postfix/private/postoffice-lmtp")],
///     hostname: "mail.example.org", accountProvider: accounts, mailStore: store, logger: logger))
/// try await ServiceGroup(services: [pop3, lmtp], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
///
/// On graceful shutdown it stops accepting, closes sessions that are between transactions
/// with `421 4.3.2`, lets the others finish the message they are on for
/// ``LMTPServerConfiguration/shutdownGracePeriod``, then closes what is left. A message whose
/// replies were not sent stays with the client, which delivers it again.
public actor LMTPServer: Service {
    /// Why the server could not start.
    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    private enum LifecycleState {
        case initial
        case running([LMTPServerConfiguration.Endpoint])
        case shutdown
        case failed(String)
    }

    public nonisolated let configuration: LMTPServerConfiguration
    private var state = LifecycleState.initial
    private var endpointWaiters: [CheckedContinuation<[LMTPServerConfiguration.Endpoint], any Error>] = []
    private nonisolated let connections = LMTPConnections()
    /// Listeners ``bind()`` opened, not yet accepting; ``run()`` takes them.
    private nonisolated let prebound = NIOLockedValueBox<[(any Channel, LMTPServerConfiguration.Endpoint)]?>(nil)

    public init(configuration: LMTPServerConfiguration) {
        self.configuration = configuration
    }

    /// The endpoints actually bound (TCP port 0 resolved), once the server runs. Waits until
    /// then; throws if startup failed or the server has stopped.
    public func boundEndpoints() async throws -> [LMTPServerConfiguration.Endpoint] {
        switch state {
        case .running(let endpoints): return endpoints
        case .failed(let reason): throw StartupError(description: reason)
        case .shutdown: throw StartupError(description: "the LMTP server has shut down")
        case .initial: return try await withCheckedThrowingContinuation { endpointWaiters.append($0) }
        }
    }

    /// Number of connections open now.
    public nonisolated var connectionCount: Int { connections.count }

    private func transition(to newState: LifecycleState) {
        state = newState
        let waiters = endpointWaiters
        endpointWaiters = []
        for waiter in waiters {
            switch newState {
            case .running(let endpoints): waiter.resume(returning: endpoints)
            case .failed(let reason): waiter.resume(throwing: StartupError(description: reason))
            case .shutdown, .initial:
                waiter.resume(throwing: StartupError(description: "the LMTP server has shut down"))
            }
        }
    }

    public nonisolated func run() async throws {
        let logger = configuration.logger
        let listeners: [(any Channel, LMTPServerConfiguration.Endpoint)]
        do {
            if let bound = prebound.withLockedValue({ bound in
                defer { bound = nil }; return bound
            }) {
                listeners = bound
            } else {
                listeners = try await bindListeners()
            }
            for (channel, _) in listeners { try await channel.setOption(.autoRead, value: true).get() }
        } catch {
            await transition(to: .failed(String(describing: error)))
            throw error
        }
        let endpoints = listeners.map(\.1)
        logger.info("LMTP server listening on \(endpoints.map(\.description).joined(separator: ", "))")
        await transition(to: .running(endpoints))

        // Until SIGTERM (graceful shutdown) or cancellation.
        let graceful: Bool
        do {
            try await gracefulShutdown()
            graceful = true
        } catch {
            graceful = false
        }
        for (channel, _) in listeners { try? await channel.close() }
        await Self.removeSocketFiles(listeners.map(\.1))
        if graceful {
            logger.info("LMTP server shutting down: no new connections, \(connections.count) sessions open")
            connections.shutdownAll()
            let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
            while connections.count > 0, ContinuousClock.now < deadline, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let open = connections.closeAll()
        if open > 0 { logger.notice("closed \(open) LMTP sessions at the shutdown deadline") }
        await transition(to: .shutdown)
        logger.info("LMTP server stopped")
    }

    /// Binds every endpoint without accepting yet, and returns them (TCP port 0 resolved). A
    /// process started as root calls this, drops its privileges, then runs the server.
    /// Without it, ``run()`` binds itself.
    public nonisolated func bind() async throws -> [LMTPServerConfiguration.Endpoint] {
        let listeners = try await bindListeners()
        prebound.withLockedValue { $0 = listeners }
        return listeners.map(\.1)
    }

    private nonisolated func bindListeners() async throws -> [(any Channel, LMTPServerConfiguration.Endpoint)] {
        let configuration = self.configuration
        guard !configuration.endpoints.isEmpty else { throw StartupError(description: "no LMTP listeners configured") }
        let connections = self.connections
        let session = LMTPServerSession.Configuration(hostname: configuration.hostname, limits: configuration.limits)
        let agent = LMTPDeliveryAgent(
            accounts: configuration.accountProvider,
            store: configuration.mailStore,
            logger: configuration.logger,
            metrics: configuration.metrics
        )
        // A bootstrap per listener: TCP options must not reach a Unix-domain socket.
        func makeBootstrap() -> ServerBootstrap {
            ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: 256)
                // Accepting starts in run(), after a privilege drop (bind()).
                .serverChannelOption(.autoRead, value: false)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try Self.initializeConnection(
                            channel,
                            session: session,
                            agent: agent,
                            maximumConnections: configuration.maximumConnections,
                            connections: connections,
                            logger: configuration.logger
                        )
                    }
                }
        }
        var bound: [(any Channel, LMTPServerConfiguration.Endpoint)] = []
        do {
            for endpoint in configuration.endpoints {
                switch endpoint {
                case .tcp(let host, let port):
                    let channel = try await makeBootstrap()
                        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                        .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                        .bind(host: host, port: port).get()
                    bound.append((channel, .tcp(host: host, port: channel.localAddress?.port ?? port)))
                case .unix(let path):
                    let channel = try await makeBootstrap()
                        .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
                    bound.append((channel, endpoint))
                    try await BlockingIO.run {
                        // The MTA's LMTP client runs as its own user (see the Endpoint docs).
                        guard chmod(path, 0o666) == 0 else {
                            throw StartupError(description: "chmod \(path): \(String(cString: strerror(errno)))")
                        }
                    }
                }
            }
        } catch {
            for (channel, _) in bound { try? await channel.close() }
            await Self.removeSocketFiles(bound.map(\.1))
            throw StartupError(description: "cannot listen for LMTP: \(error)")
        }
        return bound
    }

    private static func initializeConnection(
        _ channel: any Channel,
        session: LMTPServerSession.Configuration,
        agent: LMTPDeliveryAgent,
        maximumConnections: Int,
        connections: LMTPConnections,
        logger: Logger
    ) throws {
        let operations = channel.pipeline.syncOperations
        guard connections.count < maximumConnections else {
            logger.warning("refusing LMTP connection: \(connections.count) connections open")
            try operations.addHandler(LMTPRefusalHandler(hostname: session.hostname))
            return
        }
        let handler = LMTPServerHandler(configuration: session, agent: agent, logger: logger)
        try operations.addHandler(handler)
        let id = connections.add(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
        channel.closeFuture.whenComplete { _ in connections.remove(id) }
    }

    private static func removeSocketFiles(_ endpoints: [LMTPServerConfiguration.Endpoint]) async {
        let paths = endpoints.compactMap { endpoint -> String? in
            if case .unix(let path) = endpoint { return path }
            return nil
        }
        guard !paths.isEmpty else { return }
        _ = try? await BlockingIO.run {
            for path in paths { _ = try? FileSystem.remove(FilePath(path)) }
        }
    }
}

/// The open LMTP connections, so shutdown can reach them.
final class LMTPConnections: Sendable {
    private struct Entry {
        var channel: any Channel
        var handler: NIOLoopBound<LMTPServerHandler>
    }

    // NIOLockedValueBox (a pthread mutex): the thread sanitizer sees it.
    private let state = NIOLockedValueBox<(next: Int, entries: [Int: Entry])>((0, [:]))

    func add(channel: any Channel, handler: NIOLoopBound<LMTPServerHandler>) -> Int {
        state.withLockedValue { state in
            state.next += 1
            state.entries[state.next] = Entry(channel: channel, handler: handler)
            return state.next
        }
    }

    func remove(_ id: Int) {
        state.withLockedValue { _ = $0.entries.removeValue(forKey: id) }
    }

    var count: Int { state.withLockedValue { $0.entries.count } }

    /// Asks every session to end as soon as it is between transactions.
    func shutdownAll() {
        let handlers = state.withLockedValue { $0.entries.values.map(\.handler) }
        for handler in handlers {
            handler.eventLoop.execute { handler.value.shutdown() }
        }
    }

    /// Closes every connection; returns how many there were.
    func closeAll() -> Int {
        let channels = state.withLockedValue { $0.entries.values.map(\.channel) }
        for channel in channels { channel.close(promise: nil) }
        return channels.count
    }
}

/// Answers a connection over the limit with `421 4.3.2` and closes it (RFC 5321 §3.8).
final class LMTPRefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let hostname: String
    private var refused = false

    init(hostname: String) {
        self.hostname = hostname
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    private func refuse(context: ChannelHandlerContext) {
        guard !refused else { return }
        refused = true
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeLMTPReply(Reply(421, .notAccepting, "\(hostname) too many connections, try again later"))
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
