// POP3Server: the server's TLS context (RFC 8314: TLS 1.2 or newer) and its handshake count.
import NIOCore
import NIOSSL
import NIOTLS
import ServerMetrics

enum POP3ServerTLS {
    /// The TLS 1.2 cipher suites offered: ECDHE key exchange (forward secrecy) with an AEAD
    /// cipher only, as Mozilla's "intermediate" profile. BoringSSL's default list adds CBC
    /// suites with SHA-1 MACs, which testssl.sh rates "average" and LUCKY13-prone
    /// (docs/RELIABILITY.md, "TLS"). TLS 1.3 suites are all AEAD and not configurable here.
    static let tls12CipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// Loads the PEM certificate chain and key; TLS 1.2 is the minimum.
    static func makeContext(_ files: POP3ServerConfiguration.TLSFiles) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificatePath).map {
            NIOSSLCertificateSource.certificate($0)
        }
        let key = try NIOSSLPrivateKey(file: files.keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain,
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = Self.tls12CipherSuites
        return try NIOSSLContext(configuration: configuration)
    }

    /// Adds the TLS handler and, after it, the handshake counter to `pipeline` at `position`:
    /// `.first` for STLS, under the live session; `.last` for implicit TLS, so that on a PROXY
    /// listener it comes after the header's handler (the header is in clear, before TLS).
    static func addServerHandlers(
        _ operations: ChannelPipeline.SynchronousOperations,
        context: NIOSSLContext,
        listener: ServerMetrics.Listener,
        metrics: ServerMetrics,
        position: ChannelPipeline.SynchronousOperations.Position = .first
    ) throws {
        let tls = NIOSSLServerHandler(context: context)
        try operations.addHandler(tls, position: position)
        try operations.addHandler(
            TLSHandshakeCounter(listener: listener, metrics: metrics),
            position: .after(tls)
        )
    }
}

/// Counts one TLS handshake: a success when NIOSSL reports it complete, a failure when an
/// error or the end of the connection comes first; passes everything on.
final class TLSHandshakeCounter: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let listener: ServerMetrics.Listener
    private let metrics: ServerMetrics
    private var counted = false

    init(listener: ServerMetrics.Listener, metrics: ServerMetrics) {
        self.listener = listener
        self.metrics = metrics
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { count(context: context, succeeded: true) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        count(context: context, succeeded: false)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        count(context: context, succeeded: false)
        context.fireChannelInactive()
    }

    private func count(context: ChannelHandlerContext, succeeded: Bool) {
        guard !counted else { return }
        counted = true
        metrics.tlsHandshake(listener: listener, succeeded: succeeded)
    }
}
