// POP3Server: the one function that builds a connection's channel pipeline (GUIDE B6).
import Accounts
import Logging
import NIOCore
import NIOSSL
import POP3Core
import ProxyProtocol
import SASL
import ServerMetrics

/// Everything a connection needs from its server, shared by all connections.
struct POP3ConnectionEnvironment: Sendable {
    var configuration: POP3ServerConfiguration
    var sslContext: NIOSSLContext?
    var failureDelays: AuthFailureDelays
    /// Password checks for clients with recent failures, a few at a time (the server's own,
    /// kept across reloads).
    var suspectChecks: SuspectCheckGate
    /// Connections served at once: the configured limit, never more than the descriptors allow
    /// (``ConnectionLimit/capped(_:)``).
    var maximumConnections: Int
    /// Bans after repeated failed logins, when the configuration asks for them.
    var bans: BanList?
    /// The session configuration every connection starts from, built once per server.
    private var sessionTemplate: ServerSession.Configuration

    init(
        configuration: POP3ServerConfiguration,
        sslContext: NIOSSLContext?,
        failureDelays: AuthFailureDelays,
        suspectChecks: SuspectCheckGate = SuspectCheckGate(),
        bans: BanList? = nil
    ) {
        self.configuration = configuration
        self.sslContext = sslContext
        self.failureDelays = failureDelays
        self.suspectChecks = suspectChecks
        self.maximumConnections = ConnectionLimit.capped(configuration.maximumConnections)
        self.bans = bans
        let mechanisms = configuration.saslMechanisms.filter { configuration.makeMechanism($0) != nil }.map(\.rawValue)
        self.sessionTemplate = ServerSession.Configuration(
            limits: configuration.limits,
            saslMechanisms: mechanisms
        )
    }

    /// LOGIN-DELAY and EXPIRE as CAPA shows them before login: the site's settings and those the
    /// accounts carry as the account database was last read (no I/O).
    var advertisedPolicy: AdvertisedPolicy {
        AdvertisedPolicy(
            siteLoginDelay: self.configuration.loginDelaySeconds,
            siteExpiry: self.configuration.expiry,
            inUse: self.configuration.accountProvider.settingsInUse
        )
    }

    /// Whether `peer` is in a trusted network or is a trusted proxy: exempt from bans and from
    /// the per-client connection cap.
    func isTrusted(_ peer: PeerAddress) -> Bool {
        guard let address = peer.address else { return false }
        return (self.configuration.trustedNetworks + self.configuration.trustedProxies).contains {
            $0.contains(address)
        }
    }

    /// Runs a password check for `peer`: behind the other suspect checks when it failed a login
    /// recently (``SuspectCheckGate``); trusted peers never wait.
    func checkPassword<Result: Sendable>(
        for peer: PeerAddress,
        _ check: () async -> Result
    ) async -> Result {
        let suspect = !self.isTrusted(peer) && self.failureDelays.hasRecentFailures(address: peer.clientKey)
        return await self.suspectChecks.run(suspect: suspect, check)
    }

    /// Whether `peer`'s address is banned now (never for a trusted peer).
    func isBanned(_ peer: PeerAddress) -> Bool {
        guard let bans = self.bans, !self.isTrusted(peer) else { return false }
        return bans.isBanned(.address(peer.clientKey), now: BanFile.now())
    }

    /// The session configuration for a connection from `peer`.
    func sessionConfiguration(peer: PeerAddress, implicitTLS: Bool) -> ServerSession.Configuration {
        var session = self.sessionTemplate
        let advertised = self.advertisedPolicy
        session.loginDelaySeconds = advertised.loginDelaySeconds
        session.loginDelayPerUser = advertised.loginDelayPerUser
        session.expireDays = advertised.expireDays
        session.expirePerUser = advertised.expirePerUser
        session.tlsActive = implicitTLS
        session.stlsAvailable = self.sslContext != nil && !implicitTLS
        session.cleartextAllowedWithoutTLS =
            self.configuration.allowCleartextAuth || (self.configuration.cleartextAllowedOnLoopback && peer.isLoopback)
        if self.configuration.apop {
            session.apopTimestamp = APOP.makeTimestamp(hostname: self.configuration.hostname)
        }
        return session
    }
}

/// Builds the pipeline of an accepted connection, synchronously on its event loop:
///
/// 1. `NIOSSLServerHandler` when the listener is implicit-TLS (STLS adds it later, at `.first`);
/// 2. ``POP3ServerHandler``: CRLF framing with the line limits, the session, the idle timer,
///    and the slow work handed to the store and the account database.
func configurePOP3ServerPipeline(
    channel: any Channel,
    peer: PeerAddress,
    implicitTLS sslContext: NIOSSLContext?,
    environment: POP3ConnectionEnvironment,
    onLogin: @escaping @Sendable (String) -> Void = { _ in },
    onFinished: @escaping @Sendable () -> Void
) throws {
    let operations = channel.pipeline.syncOperations
    let metrics = environment.configuration.metrics
    if let sslContext {
        try POP3ServerTLS.addServerHandlers(
            operations,
            context: sslContext,
            listener: .pop3s,
            metrics: metrics,
            position: .last
        )
    }
    try operations.addHandler(
        POP3ServerHandler(
            environment: environment,
            eventLoop: channel.eventLoop,
            peer: peer,
            implicitTLS: sslContext != nil,
            onLogin: onLogin,
            onFinished: onFinished
        )
    )
}

/// Why a connection is refused before its session starts: over
/// ``POP3ServerConfiguration/maximumConnections``, over
/// ``POP3ServerConfiguration/maximumConnectionsPerClient``, or from an address banned after
/// repeated failed logins. One type with the metric's label.
typealias ConnectionRefusal = ServerMetrics.Refusal

extension ConnectionRefusal {
    /// `-ERR [SYS/TEMP]` (RFC 3206 §4): the client may try again later, and should.
    var response: Response {
        switch self {
        case .serverFull: .err("too many connections, try again later", code: .sysTemp)
        case .clientFull: .err("too many connections from your address, try again later", code: .sysTemp)
        case .banned: .err("too many failed logins from your address, try again later", code: .sysTemp)
        }
    }
}

/// A refused connection: its `-ERR [SYS/TEMP]` answer, then close.
func configureRefusalPipeline(
    channel: any Channel,
    implicitTLS sslContext: NIOSSLContext?,
    refusal: ConnectionRefusal
) throws {
    let operations = channel.pipeline.syncOperations
    if let sslContext {
        try operations.addHandler(NIOSSLServerHandler(context: sslContext))
    }
    try operations.addHandler(ConnectionRefusalHandler(response: refusal.response))
}

/// Writes the refusal once the connection is up, and closes when it is out.
private final class ConnectionRefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let response: Response
    private var refused = false

    init(response: Response) {
        self.response = response
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.refuse(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    private func refuse(context: ChannelHandlerContext) {
        guard !self.refused else { return }
        self.refused = true
        var refusal = ByteBuffer()
        refusal.writePOP3Response(self.response)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(refusal)).whenComplete { _ in channel.close(promise: nil) }
    }
}
