import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import POP3TestSupport
import SwiftASN1
import TestTiming
import Testing
import X509

@testable import Discovery

/// An HTTPS server on 127.0.0.1 with a certificate from a test CA, answering by path.
final class TestHTTPSServer: Sendable {
    let channel: any Channel
    let caFile: String
    var port: Int { self.channel.localAddress!.port! }  // safe: bound

    /// `routes`: path -> (status, headers, body).
    init(routes: [String: (Int, [(String, String)], String)]) async throws {
        let ca = try TestCertificateAuthority()
        let files = try ca.writeServerFiles()
        self.caFile = (files.certificatePath as NSString).deletingLastPathComponent + "/ca.pem"
        try ca.caCertificatePEM.write(toFile: self.caFile, atomically: true, encoding: .utf8)
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(files.certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: files.keyPath, format: .pem))
        )
        let context = try NIOSSLContext(configuration: configuration)
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder(routes: routes))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() { self.channel.close(promise: nil) }

    final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let routes: [String: (Int, [(String, String)], String)]
        init(routes: [String: (Int, [(String, String)], String)]) { self.routes = routes }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let request) = self.unwrapInboundIn(data) else { return }
            let (status, headers, body) = self.routes[request.uri] ?? (404, [], "not found")
            var head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status))
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            head.headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            head.headers.add(name: "Connection", value: "close")
            context.write(self.wrapOutboundOut(.head(head)), promise: nil)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}

@Suite("HTTPS GET for autoconfig")
struct HTTPSGetTests {
    /// The production default as a safety net, scaled for slow builds.
    static let timeout = TestTimeScale.scaled(HTTPSGet.defaultTimeout)

    static func server() async throws -> TestHTTPSServer {
        try await TestHTTPSServer(routes: [
            "/mail/config-v1.1.xml": (200, [], "<clientConfig/>"),
            "/moved": (301, [("Location", "/mail/config-v1.1.xml")], ""),
            "/loop": (302, [("Location", "/loop")], ""),
            "/plain-http": (302, [("Location", "http://localhost/x")], ""),
            "/big": (200, [], String(repeating: "x", count: HTTPSGet.maximumBodySize + 1)),
        ])
    }

    @Test func aFileIsFetchedOverVerifiedTLS() async throws {
        let server = try await Self.server()
        defer { server.stop() }
        let get = HTTPSGet(additionalCAFile: server.caFile, timeout: Self.timeout)
        let base = "https://localhost:\(server.port)"
        #expect(try await get.get(base + "/mail/config-v1.1.xml") == Array("<clientConfig/>".utf8))
        #expect(try await get.get(base + "/moved") == Array("<clientConfig/>".utf8), "a redirect is followed")
        #expect(try await get.get(base + "/nothing-here") == nil, "404: no file")
    }

    @Test func untrustedNamesHostileSizesAndLoopsAreRefused() async throws {
        let server = try await Self.server()
        defer { server.stop() }
        let base = "https://localhost:\(server.port)"
        // The system's CAs do not know the test CA.
        await #expect(throws: DiscoveryError.self) { try await HTTPSGet().get(base + "/mail/config-v1.1.xml") }
        let get = HTTPSGet(additionalCAFile: server.caFile, timeout: Self.timeout)
        // The certificate names localhost, not this name (resolved to the same address).
        let renamed = HTTPSGet(additionalCAFile: server.caFile, resolve: { _ in ["127.0.0.1"] }, timeout: Self.timeout)
        await #expect(throws: DiscoveryError.self) {
            try await renamed.get("https://autoconfig.example.test:\(server.port)/mail/config-v1.1.xml")
        }
        await #expect(throws: DiscoveryError.self) { try await get.get(base + "/big") }
        await #expect(throws: DiscoveryError.self) { try await get.get(base + "/loop") }
        await #expect(throws: DiscoveryError.self) { try await get.get(base + "/plain-http") }
    }

    @Test func aNameResolvedThroughTheGivenDNSIsConnectedByAddress() async throws {
        let server = try await Self.server()
        defer { server.stop() }
        // SNI and the certificate check use the name; the connection goes to the address.
        let get = HTTPSGet(
            additionalCAFile: server.caFile,
            resolve: { host in host == "localhost" ? ["127.0.0.1"] : [] },
            timeout: Self.timeout
        )
        #expect(try await get.get("https://localhost:\(server.port)/mail/config-v1.1.xml") != nil)
    }
}

@Suite("certificate names")
struct CertificateNameTests {
    @Test(
        arguments: [
            (["pop.example.org"], "POP.example.org.", true), (["*.example.org"], "autoconfig.example.org", true),
            (["*.example.org"], "a.b.example.org", false), (["*.example.org"], "example.org", false),
            (["*.org"], "example.org", false), (["example.org"], "autoconfig.example.org", false),
            (["localhost"], "localhost", true), ([], "localhost", false),
        ]
    )
    func dnsNames(_ names: [String], _ host: String, _ expected: Bool) throws {
        let identity = try TestCertificateAuthority(serverDNSNames: names)
        let certificate = try Certificate(pemEncoded: identity.serverCertificatePEM)
        #expect(CertificateName.matches(certificate, host: host) == expected)
    }
}
