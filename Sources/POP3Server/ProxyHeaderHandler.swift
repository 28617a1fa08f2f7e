// POP3Server: reads the PROXY protocol header on listeners that require one, then steps aside.
import Logging
import NIOCore
import ProxyProtocol

/// The first handler on a PROXY-protocol listener (HAProxy's doc/proxy-protocol.txt).
///
/// - A peer outside the trusted proxy networks is closed at once, before a byte is read: only
///   a trusted proxy may tell us who the client is (§1: "only trusted proxies are allowed to
///   use this protocol").
/// - Otherwise it buffers input until ``ProxyHeaderDecoder`` has a header (at most 107 octets
///   for v1, 16 plus ``ProxyProtocolLimits/maximumVersion2AddressBlock`` for v2), then calls
///   `admit` with the client's address, which adds the rest of the pipeline (TLS, the POP3
///   session) after this handler. It passes on the bytes that followed the header and removes
///   itself, so a session pays nothing for it afterwards.
/// - Garbage, a header over the limits, or no complete header within ``headerTimeout`` closes
///   the connection without a word (§2.1: "abort the connection"); so does `admit` throwing.
final class ProxyHeaderHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// How long a trusted proxy may take to send the header. The specification asks for at
    /// least 3 seconds, to cover a TCP retransmission.
    static let headerTimeout: TimeAmount = .seconds(10)

    private let decoder: ProxyHeaderDecoder
    private let trustedProxies: [IPNetwork]
    private let logger: Logger
    private let admit: (ChannelHandlerContext, PeerAddress) throws -> Void
    private var buffer = ByteBuffer()
    private var timer: Scheduled<Void>?
    private var done = false

    init(
        trustedProxies: [IPNetwork],
        limits: ProxyProtocolLimits = ProxyProtocolLimits(),
        logger: Logger,
        admit: @escaping (ChannelHandlerContext, PeerAddress) throws -> Void
    ) {
        self.decoder = ProxyHeaderDecoder(limits: limits)
        self.trustedProxies = trustedProxies
        self.logger = logger
        self.admit = admit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
    }

    private func start(context: ChannelHandlerContext) {
        guard self.timer == nil, !self.done else { return }
        let proxy = PeerAddress(context.channel.remoteAddress)
        guard let address = proxy.address, self.trustedProxies.contains(where: { $0.contains(address) }) else {
            self.reject(context: context, peer: proxy, reason: "not a trusted proxy")
            return
        }
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.headerTimeout) {
            self.reject(context: context, peer: proxy, reason: "no complete header in time")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.done else { return }
        var bytes = self.unwrapInboundIn(data)
        self.buffer.writeBuffer(&bytes)
        let proxy = PeerAddress(context.channel.remoteAddress)
        let header: ProxyHeader?
        do {
            header = try self.decoder.decode(&self.buffer)
        } catch {
            self.reject(context: context, peer: proxy, reason: error.hint)
            return
        }
        guard let header else { return }
        self.done = true
        self.timer?.cancel()
        // LOCAL, UNKNOWN and unsupported families: the connection's own endpoints (§2.1, §2.2).
        let client = header.source.map { PeerAddress($0) } ?? proxy
        self.logger.debug("PROXY v\(header.version.rawValue) header from \(proxy): client \(client)")
        do {
            try self.admit(context, client)
        } catch {
            self.logger.warning("closing connection peer=\(client): \(error)")
            context.close(promise: nil)
            return
        }
        if self.buffer.readableBytes > 0 {
            context.fireChannelRead(self.wrapInboundOut(self.buffer))
            context.fireChannelReadComplete()
        }
        self.buffer = ByteBuffer()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func reject(context: ChannelHandlerContext, peer: PeerAddress, reason: String) {
        guard !self.done else { return }
        self.done = true
        self.timer?.cancel()
        self.logger.warning("refusing PROXY connection peer=\(peer): \(reason)")
        context.close(promise: nil)
    }
}
