// POP3Server: listeners, connections and graceful shutdown as a swift-service-lifecycle Service.
import Logging
import NIOConcurrencyHelpers
public import NIOCore
import NIOPosix
import NIOSSL
import POP3Core
import SASL
public import ServiceLifecycle
import Synchronization

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

    /// Number of connections open now.
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
        let servers: [NIOAsyncChannel<POP3Connection, Never>]
        let environment: POP3ConnectionEnvironment
        do {
            (servers, environment) = try await bind()
        } catch {
            await transition(to: .failed(String(describing: error)))
            throw error
        }
        let addresses = servers.compactMap { $0.channel.localAddress }
        configuration.logger.info("POP3 server listening on \(addresses.map(\.description).joined(separator: ", "))")
        await transition(to: .running(addresses))

        let grace = configuration.shutdownGracePeriod
        let logger = configuration.logger
        let connections = self.connections
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await withDiscardingTaskGroup { listeners in
                    for server in servers {
                        listeners.addTask {
                            await Self.acceptLoop(server, environment: environment, connections: connections)
                        }
                    }
                }
            }
            group.addTask {
                try await gracefulShutdown()
                await self.markShuttingDown()
                logger.info("POP3 server shutting down: no new connections, \(connections.count) sessions open")
                for server in servers { server.channel.close(promise: nil) }
                try await Task.sleep(for: grace)
                let open = connections.closeAll()
                if open > 0 { logger.notice("closed \(open) sessions at the shutdown deadline (no deletions)") }
            }
            do { _ = try await group.next() } catch {}
            group.cancelAll()
            // Cancellation or the deadline: close whatever is still open.
            for server in servers { server.channel.close(promise: nil) }
            _ = connections.closeAll()
            while !group.isEmpty {
                do { _ = try await group.next() } catch {}
            }
        }
        await transition(to: .shutdown)
        logger.info("POP3 server stopped")
    }

    private nonisolated func bind() async throws -> (
        [NIOAsyncChannel<POP3Connection, Never>], POP3ConnectionEnvironment
    ) {
        let configuration = self.configuration
        guard !configuration.listeners.isEmpty else { throw StartupError(description: "no listeners configured") }
        let sslContext = try configuration.tls.map(POP3ServerTLS.makeContext)
        if sslContext == nil, configuration.listeners.contains(where: \.implicitTLS) {
            throw StartupError(description: "an implicit-TLS listener needs a certificate and key")
        }
        let mechanisms = configuration.saslMechanisms.filter { configuration.makeMechanism($0) != nil }.map(\.rawValue)
        let environment = POP3ConnectionEnvironment(
            configuration: configuration,
            sslContext: sslContext,
            mechanisms: mechanisms,
            failureDelays: AuthFailureDelays(
                base: configuration.authFailureDelay,
                cap: configuration.authFailureDelayCap
            )
        )
        let limits = configuration.limits
        var servers: [NIOAsyncChannel<POP3Connection, Never>] = []
        do {
            for listener in configuration.listeners {
                let listenerTLS = listener.implicitTLS ? sslContext : nil
                let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .bind(host: listener.host, port: listener.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try configurePOP3ServerPipeline(channel: channel, implicitTLS: listenerTLS, limits: limits)
                        }
                    }
                servers.append(server)
            }
        } catch {
            for server in servers { try? await server.channel.close() }
            throw error
        }
        return (servers, environment)
    }

    private static func acceptLoop(
        _ server: NIOAsyncChannel<POP3Connection, Never>,
        environment: POP3ConnectionEnvironment,
        connections: ConnectionRegistry
    ) async {
        await withDiscardingTaskGroup { sessions in
            do {
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        sessions.addTask {
                            await serve(connection, environment: environment, connections: connections)
                        }
                    }
                }
            } catch {
                environment.configuration.logger.error("listener failed: \(String(describing: error))")
            }
        }
    }

    private static func serve(
        _ connection: POP3Connection,
        environment: POP3ConnectionEnvironment,
        connections: ConnectionRegistry
    ) async {
        let channel = connection.asyncChannel.channel
        let (id, open) = connections.add(channel)
        defer { connections.remove(id) }
        do {
            guard open <= environment.configuration.maximumConnections else {
                environment.configuration.logger.warning(
                    "refusing connection peer=\(PeerAddress(channel.remoteAddress)): \(open - 1) connections open"
                )
                try await connection.asyncChannel.executeThenClose { _, outbound in
                    var refusal = ByteBuffer()
                    refusal.writePOP3Response(.err("too many connections, try again later", code: .sysTemp))
                    try await outbound.write(refusal)
                }
                return
            }
            try await connection.asyncChannel.executeThenClose { inbound, outbound in
                let runner = POP3ConnectionRunner(
                    environment: environment,
                    channel: channel,
                    framer: connection.framer,
                    outbound: outbound,
                    implicitTLS: connection.implicitTLS
                )
                await runner.run(inbound: inbound)
            }
        } catch {
            environment.configuration.logger.debug("closing connection: \(String(describing: type(of: error)))")
        }
    }
}

/// The open connections, so the shutdown deadline can close them.
final class ConnectionRegistry: Sendable {
    // NIOLockedValueBox (a pthread mutex) rather than Synchronization.Mutex: the thread
    // sanitizer sees pthread locks, and reports false races inside Mutex on Linux.
    private let state = NIOLockedValueBox<(next: Int, channels: [Int: any Channel])>((0, [:]))

    /// Registers `channel`; returns its id and the number of connections open with it.
    func add(_ channel: any Channel) -> (id: Int, open: Int) {
        state.withLockedValue { state in
            state.next += 1
            state.channels[state.next] = channel
            return (state.next, state.channels.count)
        }
    }

    func remove(_ id: Int) {
        state.withLockedValue { _ = $0.channels.removeValue(forKey: id) }
    }

    var count: Int { state.withLockedValue { $0.channels.count } }

    /// Closes every open connection; returns how many there were.
    func closeAll() -> Int {
        let channels = state.withLockedValue { Array($0.channels.values) }
        for channel in channels { channel.close(promise: nil) }
        return channels.count
    }
}
