import NIOCore
import POP3Server
import POP3TestSupport
import ProxyProtocol
import Testing

/// Listeners that require a PROXY header (HAProxy's doc/proxy-protocol.txt) from a trusted
/// proxy: the client's address then reaches the log, and everything else is closed cleanly.
@Suite("PROXY protocol listeners")
struct ProxyListenerTests {
    static let loopback = IPNetwork("127.0.0.1/32")!  // safe: a literal network

    /// A server whose listeners (plain, and implicit TLS when `tls`) require PROXY headers.
    static func configure(
        trusted: [IPNetwork] = [loopback],
        tls: Bool = false
    ) -> (inout POP3ServerConfiguration) -> Void {
        { configuration in
            configuration.listeners = [.init(host: "127.0.0.1", port: 0, implicitTLS: false, proxyProtocol: true)]
            if tls {
                configuration.listeners.append(
                    .init(host: "127.0.0.1", port: 0, implicitTLS: true, proxyProtocol: true)
                )
            }
            configuration.trustedProxies = trusted
            // The clients the headers name are not on loopback: cleartext logins need this.
            configuration.allowCleartextAuth = true
        }
    }

    static func v1(_ source: String, _ port: Int) -> String {
        let family = source.contains(":") ? "TCP6" : "TCP4"
        let destination = source.contains(":") ? "::1" : "127.0.0.1"
        return "PROXY \(family) \(source) \(destination) \(port) 110\r\n"
    }

    @Test func version1HeaderNamesTheClientInTheLog() async throws {
        try await TestServer.with(configure: Self.configure()) { server in
            try await server.connect { client async throws in
                try await client.send(Self.v1("192.0.2.7", 40112))
                #expect(try await client.line().hasPrefix("+OK"))
                #expect(try await client.command("USER alice") == "+OK send PASS")
                #expect(try await client.command("PASS secret").hasPrefix("+OK"))
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
            #expect(server.log.lines.contains { $0.hasPrefix("login ok user=alice peer=192.0.2.7:40112 ") })
        }
    }

    /// A version 2 header with the client's first command in the same segment: the bytes after
    /// the header reach the session.
    @Test func version2HeaderWithPipelinedCommand() async throws {
        try await TestServer.with(configure: Self.configure()) { server in
            try await server.connect { client async throws in
                let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
                let source: [UInt8] = [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 1] + Array(repeating: 0, count: 7) + [9]
                let destination: [UInt8] = Array(repeating: 0, count: 15) + [1]
                let block = source + destination + [0x13, 0x88, 0x00, 0x6E]
                try await client.send(
                    bytes: signature + [0x21, 0x21, 0x00, UInt8(block.count)] + block + Array("USER bob\r\n".utf8)
                )
                #expect(try await client.line().hasPrefix("+OK"))
                #expect(try await client.line() == "+OK send PASS")
                #expect(try await client.command("PASS wrong") == "-ERR [AUTH] authentication failed")
            }
            #expect(server.log.lines.contains { $0.hasPrefix("login failed user=bob peer=[2001:db8:0:1::9]:5000 ") })
        }
    }

    /// A LOCAL header (a proxy's health check) uses the connection's own address.
    @Test func localCommandUsesTheConnection() async throws {
        try await TestServer.with(configure: Self.configure()) { server in
            try await server.connect { client async throws in
                let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
                try await client.send(bytes: signature + [0x20, 0x00, 0x00, 0x00])
                #expect(try await client.line().hasPrefix("+OK"))
                _ = try await client.command("USER alice")
                _ = try await client.command("PASS wrong")
            }
            #expect(server.log.lines.contains { $0.hasPrefix("login failed user=alice peer=127.0.0.1:") })
        }
    }

    @Test func untrustedPeerIsClosedWithoutAWord() async throws {
        let elsewhere = IPNetwork("10.0.0.0/8")!  // safe: a literal network
        try await TestServer.with(configure: Self.configure(trusted: [elsewhere])) { server in
            try await server.connect { client async throws in
                // The server closes without reading from an untrusted peer: the header may not
                // even go out, and a close with unread input arrives as a reset.
                try? await client.send(Self.v1("192.0.2.7", 40112))
                #expect((try? await client.readUntilClosed()) ?? [] == [])
                #expect(!client.deadlineExpired)
            }
            #expect(
                server.log.lines.contains {
                    $0.contains("refusing PROXY connection peer=127.0.0.1:") && $0.hasSuffix("not a trusted proxy")
                }
            )
            #expect(!server.log.lines.contains { $0.contains("192.0.2.7") }, "an untrusted header is never believed")
        }
    }

    @Test(arguments: [
        "USER alice\r\n",  // a client that skipped the proxy
        "PROXY TCP4 192.0.2.07 127.0.0.1 1 110\r\n",  // not canonical
        "PROXY TCP4 192.0.2.7 127.0.0.1 1 110\n",  // bare LF
        "PROXY UNKNOWN " + String(repeating: "x", count: 200),  // over 107 octets
    ])
    func garbageIsClosedWithoutAWord(_ text: String) async throws {
        try await TestServer.with(configure: Self.configure()) { server in
            try await server.connect { client async throws in
                try await client.send(text)
                #expect(try await client.readUntilClosed() == [])
                #expect(!client.deadlineExpired)
            }
            #expect(server.log.lines.contains { $0.contains("refusing PROXY connection peer=127.0.0.1:") })
        }
    }

    /// A truncated header followed by the client going away frees the connection's slot.
    @Test func truncatedHeaderReleasesTheSlot() async throws {
        try await TestServer.with(configure: Self.configure()) { server in
            try await server.connect { client async throws in
                try await client.send("PROXY TCP4 192.0.2.7 ")
                for _ in 0..<500 where server.server.connectionCount == 0 {
                    try await Task.sleep(for: .milliseconds(10))
                }
                #expect(server.server.connectionCount == 1, "a connection waiting for its header holds a slot")
            }
            for _ in 0..<500 where server.server.connectionCount > 0 {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(server.server.connectionCount == 0)
        }
    }

    /// TLS passthrough: the header comes in clear, then the TLS handshake.
    @Test func headerBeforeImplicitTLS() async throws {
        try await TestServer.with(tls: true, configure: Self.configure(tls: true)) { server in
            let context = try #require(try server.ca?.clientContext())
            try await POP3LineClient.withConnection(port: try #require(server.tlsPort)) { client in
                try await client.send(Self.v1("198.51.100.20", 61000))
                try await client.startTLS(context: context)
                #expect(try await client.line().hasPrefix("+OK"))
                #expect(try await client.command("USER alice") == "+OK send PASS")
                #expect(try await client.command("PASS secret").hasPrefix("+OK"))
            }
            #expect(server.log.lines.contains { $0.hasPrefix("login ok user=alice peer=198.51.100.20:61000 tls=yes") })
        }
    }

    @Test func proxyListenerWithoutTrustedProxiesDoesNotStart() async throws {
        await #expect(throws: POP3Server.StartupError.self) {
            try await TestServer.with(configure: Self.configure(trusted: [])) { _ in }
        }
    }
}

extension ProxyListenerTests {
    /// The client a header names is the one whose connection counts as loopback or not: a
    /// remote client behind a proxy on this host gets no cleartext login without TLS.
    @Test func cleartextPolicyAppliesToTheRealClient() async throws {
        try await TestServer.with(configure: { configuration in
            configuration.listeners = [.init(host: "127.0.0.1", port: 0, implicitTLS: false, proxyProtocol: true)]
            configuration.trustedProxies = [Self.loopback]
        }) { server in
            try await server.connect { client async throws in
                try await client.send(Self.v1("192.0.2.7", 40112))
                #expect(try await client.line().hasPrefix("+OK"))
                #expect(try await client.command("USER alice").hasPrefix("-ERR"))
            }
            try await server.connect { client async throws in
                try await client.send(Self.v1("127.0.0.1", 40113))
                #expect(try await client.line().hasPrefix("+OK"))
                #expect(try await client.command("USER alice") == "+OK send PASS")
            }
        }
    }
}
