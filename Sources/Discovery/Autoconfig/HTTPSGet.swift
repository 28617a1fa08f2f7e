// The one HTTP request discovery makes: GET of an autoconfig file over HTTPS (NIOHTTP1 on
// NIOSSL), with the certificate verified, the body size and the total time bounded, and a few
// redirects to other https:// addresses followed.

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import SwiftASN1
import X509

/// An HTTPS GET of a small document.
struct HTTPSGet: Sendable {
    /// The most octets of a body read; an autoconfig file is a few kilobytes.
    static let maximumBodySize = 256 * 1024
    /// The most redirects followed from the first address.
    static let maximumRedirects = 3
    /// How long a whole request (connect, handshake, answer) may take by default.
    static let defaultTimeout: Duration = .seconds(10)

    /// Trusted in addition to the system's certificate authorities (for a private CA).
    var additionalCAFile: String?
    /// Finds the addresses to connect to for a host name (the DNS server given by the user);
    /// nil connects by name through the system's resolver.
    var resolve: (@Sendable (String) async throws -> [String])?
    /// How long a whole request (connect, handshake, answer) may take.
    var timeout: Duration = Self.defaultTimeout

    /// The body of a `200` answer; nil when the server answers another status (the file is not
    /// there). Throws when the host cannot be reached, TLS fails, or the answer is unusable.
    func get(_ address: String) async throws(DiscoveryError) -> [UInt8]? {
        var current = address
        for _ in 0...Self.maximumRedirects {
            guard let url = URL(string: current), url.scheme == "https", let host = url.host, !host.isEmpty else {
                throw DiscoveryError("\(current) is not an https:// address")
            }
            let answer = try await self.request(url: url, host: host)
            switch answer.status {
            case 200:
                return answer.body
            case 301, 302, 303, 307, 308:
                guard let location = answer.location, let next = URL(string: location, relativeTo: url) else {
                    return nil
                }
                current = next.absoluteString
            default:
                return nil
            }
        }
        throw DiscoveryError("\(address) redirects more than \(Self.maximumRedirects) times")
    }

    private struct Answer {
        var status: Int
        var location: String?
        var body: [UInt8]
    }

    private func request(url: URL, host: String) async throws(DiscoveryError) -> Answer {
        let port = url.port ?? 443
        var path = url.path.isEmpty ? "/" : url.path
        if let query = url.query { path += "?" + query }
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let additionalCAFile { configuration.additionalTrustRoots = [.file(additionalCAFile)] }
            let context = try NIOSSLContext(configuration: configuration)
            var target = host
            if let resolve = self.resolve {
                guard let address = try await resolve(host).first else {
                    throw DiscoveryError("\(host) does not exist (the DNS has no address for it)")
                }
                target = address
            }
            let (channel, nameChecked) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(self.timeout))
                .connect(host: target, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // SNI and the certificate's name check use the host name, not the address.
                        let check = PeerNameCheck(host: host, promise: channel.eventLoop.makePromise())
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: context, serverHostname: host)
                        )
                        try channel.pipeline.syncOperations.addHandler(check)
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        let async = try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                            wrappingChannelSynchronously: channel
                        )
                        return (async, check.promise.futureResult)
                    }
                }
            let deadline = channel.channel.eventLoop.scheduleTask(in: TimeAmount(self.timeout)) {
                channel.channel.close(promise: nil)
            }
            defer { deadline.cancel() }
            return try await channel.executeThenClose { inbound, outbound in
                try await nameChecked.get()
                var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
                head.headers.add(name: "Host", value: port == 443 ? host : "\(host):\(port)")
                head.headers.add(name: "User-Agent", value: "postoffice")
                head.headers.add(name: "Accept", value: "application/xml, text/xml")
                head.headers.add(name: "Connection", value: "close")
                // One write for the whole request: a server that answers on the head and closes
                // would otherwise make writing the end fail (I/O on closed channel).
                try await outbound.write(contentsOf: [.head(head), .end(nil)])
                var answer = Answer(status: 0, location: nil, body: [])
                for try await part in inbound {
                    switch part {
                    case .head(let response):
                        answer.status = Int(response.status.code)
                        answer.location = response.headers.first(name: "Location")
                    case .body(let buffer):
                        answer.body += buffer.readableBytesView
                        guard answer.body.count <= Self.maximumBodySize else {
                            throw DiscoveryError("the answer of \(host) is larger than \(Self.maximumBodySize) octets")
                        }
                    case .end:
                        return answer
                    }
                }
                throw DiscoveryError("\(host) closed the connection before the answer was complete")
            }
        } catch let error as DiscoveryError {
            throw error
        } catch let error as NIOSSLError {
            throw DiscoveryError("TLS with \(host) failed (\(error)); its certificate is not trusted or TLS is broken")
        } catch let error as BoringSSLError {
            throw DiscoveryError("TLS with \(host) failed: \(error)")
        } catch {
            throw DiscoveryError("\(host): \(self.reason(error))")
        }
    }

    /// A short reason for a connection failure.
    func reason(_ error: any Error) -> String {
        if let connection = error as? NIOConnectionError {
            if connection.connectionErrors.isEmpty { return "the host name could not be resolved" }
            if let io = connection.connectionErrors.first?.error as? IOError {
                return io.errnoCode == ECONNREFUSED ? "connection refused" : "\(io)"
            }
        }
        if case ChannelError.connectTimeout = error { return "no answer within \(self.timeout)" }
        return "\(error)"
    }
}

/// After the handshake (NIOSSL has verified the chain, and the name or the address), refuses a
/// certificate without a DNS name for the host (``CertificateName``) before any request is sent.
private final class PeerNameCheck: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let host: String
    let promise: EventLoopPromise<Void>

    init(host: String, promise: EventLoopPromise<Void>) {
        self.host = host
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            let peer = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate
            if let der = try? peer?.toDERBytes(), let certificate = try? Certificate(derEncoded: der),
                CertificateName.matches(certificate, host: self.host)
            {
                self.promise.succeed()
            } else {
                let names = (try? peer.map { try Certificate(derEncoded: $0.toDERBytes()) })??.subject
                self.promise.fail(
                    DiscoveryError(
                        "the certificate of \(self.host) is for \(names.map { "\($0)" } ?? "another name"), not \(self.host)"
                    )
                )
                context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(DiscoveryError("\(self.host) closed the connection during the TLS handshake"))
        context.fireChannelInactive()
    }
}
