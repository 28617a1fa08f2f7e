// POP3Server: listeners, connections and graceful shutdown as a swift-service-lifecycle Service.
import Logging
public import NIOCore
import NIOPosix
import NIOSSL
import POP3Core
import SASL
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
    private var state = LifecycleState.initial
    private var addressWaiters: [CheckedContinuation<[SocketAddress], any Error>] = []
    private nonisolated let connections = ConnectionRegistry()

    public init(configuration: POP3ServerConfiguration) {
        self.configuration = configuration
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
        do {
            listeners = try await bind()
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
        await transition(to: .shutdown)
        logger.info("POP3 server stopped")
    }

    private nonisolated func bind() async throws -> [any Channel] {
        let configuration = self.configuration
        guard !configuration.listeners.isEmpty else { throw StartupError(description: "no listeners configured") }
        // One context for the server's lifetime: only the handshake costs per session.
        let sslContext = try configuration.tls.map(POP3ServerTLS.makeContext)
        if sslContext == nil, configuration.listeners.contains(where: \.implicitTLS) {
            throw StartupError(description: "an implicit-TLS listener needs a certificate and key")
        }
        let environment = POP3ConnectionEnvironment(
            configuration: configuration,
            sslContext: sslContext,
            failureDelays: AuthFailureDelays(
                base: configuration.authFailureDelay,
                cap: configuration.authFailureDelayCap
            )
        )
        let maximumConnections = configuration.maximumConnections ?? ConnectionLimit.default
        let connections = self.connections
        var servers: [any Channel] = []
        do {
            for listener in configuration.listeners {
                let listenerTLS = listener.implicitTLS ? sslContext : nil
                let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try Self.accept(
                                channel,
                                tls: listenerTLS,
                                environment: environment,
                                connections: connections,
                                maximumConnections: maximumConnections
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

    /// Sets up an accepted connection: a session, or a refusal past the limit.
    private static func accept(
        _ channel: any Channel,
        tls: NIOSSLContext?,
        environment: POP3ConnectionEnvironment,
        connections: ConnectionRegistry,
        maximumConnections: Int
    ) throws {
        let (id, open) = connections.add(channel)
        guard open <= maximumConnections else {
            environment.configuration.logger.warning(
                "refusing connection peer=\(PeerAddress(channel.remoteAddress)): \(open - 1) connections open"
            )
            channel.closeFuture.whenComplete { _ in connections.remove(id) }
            try configureRefusalPipeline(channel: channel, implicitTLS: tls)
            return
        }
        do {
            try configurePOP3ServerPipeline(
                channel: channel,
                implicitTLS: tls,
                environment: environment,
                onFinished: { connections.remove(id) }
            )
        } catch {
            connections.remove(id)
            throw error
        }
    }
}
