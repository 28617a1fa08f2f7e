// POP3Server: listeners, connections and graceful shutdown as a swift-service-lifecycle Service.
import FileIO
import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOPosix
import NIOSSL
import POP3Core
import ProxyProtocol
import SASL
import ServerMetrics
public import ServiceLifecycle

/// A POP3 server (RFC 1939 with RFC 2449, RFC 2595, RFC 5034): binds its listeners, serves
/// each connection with a `ServerSession` (POP3Core) and stops gracefully.
///
/// ```swift
/// let server = POP3Server(configuration: POP3ServerConfiguration(
///     listeners: [.init(host: "0.0.0.0", port: 110, implicitTLS: false),
///                 .init(host: "0.0.0.0", port: 995, implicitTLS: true)],
///     tls: .init(certificatePath: "cert.pem", keyPath: "key.pem"),
///     makeMechanism: makeSASLServerMechanism,
///     accountProvider: accounts, mailStore: store, logger: logger))
/// try await ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
/// ```
///
/// Each connection is served on its event loop by a channel handler that drives the session
/// state machine directly; only slow work (passwords, the store) leaves the loop.
///
/// On graceful shutdown it stops accepting, lets sessions go on for
/// ``POP3ServerConfiguration/shutdownGracePeriod``, then closes those left: sessions that did
/// not QUIT delete nothing (RFC 1939 §6).
///
/// As root, ``bind()`` first takes the ports; the caller drops privileges, and ``run()`` then
/// starts accepting. ``reload(_:)`` changes what new connections get (certificate, accounts,
/// policy) while the sessions already open go on with what they started with.
public actor POP3Server: Service {
    /// Why the server could not start.
    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    private enum LifecycleState {
        case initial
        case starting
        case running([SocketAddress])
        case shuttingDown([SocketAddress])
        case shutdown
        case failed(String)
    }

    public nonisolated let configuration: POP3ServerConfiguration
    /// How often the server writes new bans to the ban file and reads it back (to see
    /// `postoffice ban remove`).
    public static let banSyncInterval: Duration = .seconds(1)
    private var state = LifecycleState.initial
    private var addressWaiters: [CheckedContinuation<[SocketAddress], any Error>] = []
    private nonisolated let connections: ConnectionRegistry
    /// What the next accepted connection is served with; ``reload(_:)`` replaces it.
    private nonisolated let environment = NIOLockedValueBox<POP3ConnectionEnvironment?>(nil)
    /// Listeners ``bind()`` opened, not yet accepting; ``run()`` takes them.
    private nonisolated let prebound = NIOLockedValueBox<[any Channel]?>(nil)
    /// The bans after failed logins (kept, and synchronized with the ban file, even while
    /// ``POP3ServerConfiguration/banPolicy`` is off, so that a reload can turn them on).
    public nonisolated let bans: BanList
    /// Password checks for clients with recent failed logins, a few at a time.
    private nonisolated let suspectChecks = SuspectCheckGate()

    public init(configuration: POP3ServerConfiguration) {
        self.configuration = configuration
        self.bans = BanList(policy: configuration.banPolicy ?? BanPolicy())
        self.connections = ConnectionRegistry(budget: configuration.descriptorBudget)
    }

    /// The addresses actually bound (port 0 resolved), once the server runs. Waits until then;
    /// throws if startup failed or the server has already stopped.
    public func boundAddresses() async throws -> [SocketAddress] {
        switch state {
        case .running(let addresses), .shuttingDown(let addresses): return addresses
        case .failed(let reason): throw StartupError(description: reason)
        case .shutdown: throw StartupError(description: "server has shut down")
        case .initial, .starting:
            return try await withCheckedThrowingContinuation { addressWaiters.append($0) }
        }
    }

    /// Number of connections open now (a closed one counts until its maildrop is released).
    public nonisolated var connectionCount: Int { connections.count }

    private func transition(to newState: LifecycleState) {
        state = newState
        switch newState {
        case .running(let addresses):
            for waiter in addressWaiters { waiter.resume(returning: addresses) }
            addressWaiters = []
        case .failed(let reason):
            for waiter in addressWaiters { waiter.resume(throwing: StartupError(description: reason)) }
            addressWaiters = []
        case .shutdown:
            for waiter in addressWaiters { waiter.resume(throwing: StartupError(description: "server has shut down")) }
            addressWaiters = []
        case .initial, .starting, .shuttingDown:
            break
        }
    }

    private func markShuttingDown() {
        if case .running(let addresses) = state { state = .shuttingDown(addresses) }
    }

    public nonisolated func run() async throws {
        await transition(to: .starting)
        let listeners: [any Channel]
        let banSync = self.configuration.banFile.map {
            BanSynchronizer(bans: self.bans, file: BanFile(path: $0), logger: self.configuration.logger)
        }
        do {
            if let bound = prebound.withLockedValue({ bound in
                defer { bound = nil }; return bound
            }) {
                listeners = bound
            } else {
                listeners = try await bindListeners()
            }
            // Bans from before a restart apply from the first connection.
            try await banSync?.load()
            // Accepting starts only now (after a privilege drop, when the caller bound first).
            for listener in listeners { try await listener.setOption(.autoRead, value: true).get() }
        } catch {
            await transition(to: .failed(String(describing: error)))
            throw error
        }
        let addresses = listeners.compactMap(\.localAddress)
        let logger = configuration.logger
        logger.info("POP3 server listening on \(addresses.map(\.description).joined(separator: ", "))")
        await transition(to: .running(addresses))

        // Serve until a graceful shutdown (or cancellation), or until every listener failed.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await gracefulShutdown() }
            group.addTask {
                for listener in listeners { try? await listener.closeFuture.get() }
            }
            if let banSync {
                group.addTask { await banSync.run(every: Self.banSyncInterval) }
            }
            await group.next()
            group.cancelAll()
            for listener in listeners { listener.close(promise: nil) }
        }
        await markShuttingDown()
        let connections = self.connections
        if !Task.isCancelled {
            logger.info("POP3 server shutting down: no new connections, \(connections.count) sessions open")
            _ = await connections.waitUntilEmpty(timeout: configuration.shutdownGracePeriod)
        }
        // Cancellation or the deadline: close whatever is still open, then let the sessions
        // release their maildrops.
        let open = connections.closeAll()
        if open > 0 { logger.notice("closed \(open) sessions at the shutdown deadline (no deletions)") }
        await connections.waitUntilEmpty()
        await banSync?.synchronize()
        await transition(to: .shutdown)
        logger.info("POP3 server stopped")
    }

    /// Binds every listener without accepting yet, and returns the bound addresses (port 0
    /// resolved). A process started as root calls this, drops its privileges, then runs the
    /// server, so no connection is ever served as root. Without it, ``run()`` binds itself.
    public nonisolated func bind() async throws -> [SocketAddress] {
        let listeners = try await bindListeners()
        prebound.withLockedValue { $0 = listeners }
        return listeners.compactMap(\.localAddress)
    }

    /// Serves new connections with `configuration` from now on: the certificate and key are
    /// read again, and the authentication policy, limits and failure delays are taken from
    /// it. Sessions already open are not touched. The listeners cannot change this way (they
    /// need a restart). Throws, keeping the current setup, if the certificate or key cannot
    /// be loaded.
    public nonisolated func reload(_ configuration: POP3ServerConfiguration) throws {
        try Self.checkProxySettings(configuration)
        let sslContext = try Self.makeSSLContext(configuration)
        Self.warnIfOverDescriptorLimit(configuration)
        environment.withLockedValue { current in
            let delays =
                current.map { old in
                    old.failureDelays.base == configuration.authFailureDelay
                        && old.failureDelays.cap == configuration.authFailureDelayCap
                } == true
                ? current!.failureDelays  // safe: checked just above
                : AuthFailureDelays(base: configuration.authFailureDelay, cap: configuration.authFailureDelayCap)
            current = POP3ConnectionEnvironment(
                configuration: configuration,
                sslContext: sslContext,
                failureDelays: delays,
                suspectChecks: self.suspectChecks,
                bans: self.activeBans(configuration)
            )
        }
        if configuration.listeners != self.configuration.listeners {
            configuration.logger.notice("the listeners changed: they take effect at the next restart")
        }
    }

    /// The sessions open now (`postoffice who`).
    public nonisolated func sessions() -> [SessionSummary] {
        connections.sessions()
    }

    /// Ends every session of `user` at once, without deleting anything (`postoffice kick`);
    /// returns how many there were.
    public nonisolated func closeSessions(user: String) -> Int {
        connections.close(user: user)
    }

    /// Loads `files` as the server would (PEM chain and key, that they match, TLS 1.2 or
    /// newer); throws what is wrong (`postoffice check-config`).
    public static func checkTLS(_ files: POP3ServerConfiguration.TLSFiles) throws {
        _ = try POP3ServerTLS.makeContext(files)
    }

    /// The ban list new connections use under `configuration`: the server's, with the
    /// configured policy, or none when bans are off.
    private nonisolated func activeBans(_ configuration: POP3ServerConfiguration) -> BanList? {
        guard let policy = configuration.banPolicy else { return nil }
        self.bans.policy = policy
        return self.bans
    }

    /// A configured connection limit past what the descriptors allow is lowered to that
    /// (``ConnectionLimit/capped(_:)``); says so.
    private static func warnIfOverDescriptorLimit(_ configuration: POP3ServerConfiguration) {
        guard let configured = configuration.maximumConnections else { return }
        let allowed = ConnectionLimit.capped(configured)
        guard allowed < configured else { return }
        let reserved = ConnectionLimit.reservedFileDescriptors
        configuration.logger.warning(
            """
            max_connections \(configured) needs more descriptors than the limit allows \
            (\(reserved) kept back, an eighth of the rest for maildrop lock files): serving at most \
            \(allowed) connections; raise RLIMIT_NOFILE (LimitNOFILE=) for more
            """
        )
    }

    private static func checkProxySettings(_ configuration: POP3ServerConfiguration) throws {
        if configuration.listeners.contains(where: \.proxyProtocol), configuration.trustedProxies.isEmpty {
            throw StartupError(description: "a PROXY-protocol listener needs at least one trusted proxy network")
        }
    }

    private static func makeSSLContext(_ configuration: POP3ServerConfiguration) throws -> NIOSSLContext? {
        // One context per configuration: only the handshake costs per session.
        let sslContext = try configuration.tls.map(POP3ServerTLS.makeContext)
        if sslContext == nil, configuration.listeners.contains(where: \.implicitTLS) {
            throw StartupError(description: "an implicit-TLS listener needs a certificate and key")
        }
        return sslContext
    }

    private nonisolated func bindListeners() async throws -> [any Channel] {
        let configuration = self.configuration
        guard !configuration.listeners.isEmpty else { throw StartupError(description: "no listeners configured") }
        try Self.checkProxySettings(configuration)
        let sslContext = try Self.makeSSLContext(configuration)
        let environment = self.environment
        let bans = self.activeBans(configuration)
        Self.warnIfOverDescriptorLimit(configuration)
        if let descriptors = ConnectionLimit.fileDescriptorLimit {
            configuration.descriptorBudget.limit = ConnectionLimit.budget(fileDescriptors: descriptors)
        }
        environment.withLockedValue {
            $0 = POP3ConnectionEnvironment(
                configuration: configuration,
                sslContext: sslContext,
                failureDelays: AuthFailureDelays(
                    base: configuration.authFailureDelay,
                    cap: configuration.authFailureDelayCap
                ),
                suspectChecks: self.suspectChecks,
                bans: bans
            )
        }
        let connections = self.connections
        var servers: [any Channel] = []
        do {
            for listener in configuration.listeners {
                let implicitTLS = listener.implicitTLS
                let proxyProtocol = listener.proxyProtocol
                let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    // Accepting starts in run(), after a privilege drop (bind()).
                    .serverChannelOption(.autoRead, value: false)
                    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            // safe: set above, before any listener exists, and only ever replaced.
                            let environment = environment.withLockedValue { $0! }
                            try Self.accept(
                                channel,
                                implicitTLS: implicitTLS,
                                proxyProtocol: proxyProtocol,
                                environment: environment,
                                connections: connections
                            )
                        }
                    }
                    .bind(host: listener.host, port: listener.port)
                    .get()
                servers.append(server)
            }
        } catch {
            for server in servers { try? await server.close() }
            throw error
        }
        return servers
    }

    /// Sets up an accepted connection. On a PROXY-protocol listener the header comes first
    /// (``ProxyHeaderHandler``), and the rest waits for the client's real address.
    private static func accept(
        _ channel: any Channel,
        implicitTLS: Bool,
        proxyProtocol: Bool,
        environment: POP3ConnectionEnvironment,
        connections: ConnectionRegistry
    ) throws {
        let tls = implicitTLS ? environment.sslContext : nil
        let (id, open) = connections.add(channel, implicitTLS: implicitTLS)
        guard proxyProtocol else {
            try Self.admit(
                channel,
                id: id,
                open: open,
                peer: PeerAddress(channel.remoteAddress),
                implicitTLS: implicitTLS,
                tls: tls,
                environment: environment,
                connections: connections
            )
            return
        }
        // Until a session owns the connection, its close releases the slot.
        let admitted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
        channel.closeFuture.whenComplete { _ in
            if !admitted.value { connections.remove(id) }
        }
        let header = ProxyHeaderHandler(
            trustedProxies: environment.configuration.trustedProxies,
            logger: environment.configuration.logger
        ) { context, peer in
            admitted.value = true
            try Self.admit(
                context.channel,
                id: id,
                open: open,
                peer: peer,
                implicitTLS: implicitTLS,
                tls: tls,
                environment: environment,
                connections: connections
            )
        }
        try channel.pipeline.syncOperations.addHandler(header)
    }

    /// A session for the client `peer`, or a refusal: past the connection limit, past the
    /// per-client cap, or from a banned address.
    private static func admit(
        _ channel: any Channel,
        id: Int,
        open: Int,
        peer: PeerAddress,
        implicitTLS: Bool,
        tls: NIOSSLContext?,
        environment: POP3ConnectionEnvironment,
        connections: ConnectionRegistry
    ) throws {
        let logger = environment.configuration.logger
        let metrics = environment.configuration.metrics
        connections.identify(id, peer: peer)
        var refusal: ConnectionRefusal?
        if open > environment.maximumConnections {
            logger.warning("refusing connection peer=\(peer): \(open - 1) connections open")
            refusal = .serverFull
        } else if environment.isBanned(peer) {
            logger.notice("refusing connection peer=\(peer): address banned")
            refusal = .banned
        } else if !environment.isTrusted(peer), let cap = environment.configuration.maximumConnectionsPerClient {
            let fromClient = connections.claim(id, client: peer.clientKey)
            if fromClient > cap {
                logger.warning(
                    "refusing connection peer=\(peer): \(fromClient - 1) connections open from \(peer.clientKey)"
                )
                refusal = .clientFull
            }
        }
        if let refusal {
            metrics.connectionRefused(refusal)
            channel.closeFuture.whenComplete { _ in connections.remove(id) }
            try configureRefusalPipeline(channel: channel, implicitTLS: tls, refusal: refusal)
            return
        }
        do {
            try configurePOP3ServerPipeline(
                channel: channel,
                peer: peer,
                implicitTLS: tls,
                environment: environment,
                onLogin: { connections.loggedIn(id, user: $0) },
                onFinished: {
                    metrics.sessionClosed()
                    connections.remove(id)
                }
            )
            metrics.sessionOpened(listener: implicitTLS ? .pop3s : .pop3)
        } catch {
            connections.remove(id)
            throw error
        }
    }
}
