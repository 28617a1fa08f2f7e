// Implicit TLS, STLS and certificate checks against a scripted server.

import NIOCore
import NIOSSL
import POP3Client
import POP3Core
import TestTiming
import Testing

@Suite("Client TLS")
struct TLSTests {
    /// Serves a login and QUIT over implicit TLS with `identity`, and connects with `trust`.
    private func connect(
        presenting identity: TestIdentity,
        trust: POP3ClientConfiguration.Trust,
        serverName: String? = "localhost"
    ) async throws -> POP3ClientError? {
        let fake = FakePOP3()
        let server = try await ScriptedServer(implicitTLS: try identity.serverContext()) { peer in
            try await fake.serve(peer)
        }
        defer { server.stop() }
        do {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(
                    port: server.port,
                    security: .implicitTLS,
                    trust: trust,
                    serverName: serverName
                ),
                credentials: .userPass(user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { connection in
                try await connection.quit()
            }
            try await server.finish()
            return nil
        } catch let error as POP3ClientError {
            return error
        }
    }

    @Test func trustsACertificateFromTheCAFile() async throws {
        let ca = try TestPKI.makeCA()
        let leaf = try TestPKI.makeServer(dnsNames: ["localhost"], issuer: ca)
        let error = try await self.connect(presenting: leaf, trust: .caFile(try ca.writePEM()))
        #expect(error == nil, "\(error?.message ?? "")")
    }

    @Test func ipAddressNameIsCheckedAgainstIPSubjectAltNames() async throws {
        let ca = try TestPKI.makeCA()
        let leaf = try TestPKI.makeServer(dnsNames: ["localhost"], issuer: ca)
        let error = try await self.connect(presenting: leaf, trust: .caFile(try ca.writePEM()), serverName: nil)
        #expect(error == nil, "\(error?.message ?? "")")
    }

    @Test func wrongHostnameSaysWhichNameTheCertificateHas() async throws {
        let ca = try TestPKI.makeCA()
        let leaf = try TestPKI.makeServer(dnsNames: ["mail.example.org"], issuer: ca)
        let error = try #require(
            try await self.connect(presenting: leaf, trust: .caFile(try ca.writePEM()), serverName: "pop.example.com")
        )
        #expect(error.kind == .certificate)
        #expect(error.message.contains("the server's certificate is for mail.example.org"))
        #expect(error.message.contains("not pop.example.com"))
        #expect(error.message.contains("--ca-file or --fingerprint"))
    }

    @Test func selfSignedCertificateIsRefusedWithItsFingerprint() async throws {
        let leaf = try TestPKI.makeServer(dnsNames: ["localhost"], issuer: nil)
        let error = try #require(try await self.connect(presenting: leaf, trust: .system))
        #expect(error.kind == .certificate)
        #expect(error.message.contains("self-signed"))
        #expect(error.message.contains("not trusted"))
        let fingerprint =
            "SHA256:"
            + leaf.sha256.map { byte in
                let hex = String(byte, radix: 16, uppercase: true)
                return hex.count == 1 ? "0" + hex : hex
            }.joined(separator: ":")
        #expect(error.message.contains(fingerprint))
    }

    @Test func untrustedCAIsRefused() async throws {
        let ca = try TestPKI.makeCA()
        let otherCA = try TestPKI.makeCA(name: "Someone Else")
        let leaf = try TestPKI.makeServer(dnsNames: ["localhost"], issuer: ca)
        let error = try #require(try await self.connect(presenting: leaf, trust: .caFile(try otherCA.writePEM())))
        #expect(error.kind == .certificate)
        #expect(error.message.contains("not trusted"))
    }

    @Test func matchingFingerprintIsAccepted() async throws {
        let leaf = try TestPKI.makeServer(dnsNames: ["elsewhere.example"], issuer: nil)
        let error = try await self.connect(presenting: leaf, trust: .fingerprint(leaf.sha256))
        #expect(error == nil, "\(error?.message ?? "")")
    }

    @Test func otherFingerprintIsRefused() async throws {
        let leaf = try TestPKI.makeServer(dnsNames: ["localhost"], issuer: nil)
        let pinned = [UInt8](repeating: 0xAB, count: 32)
        let error = try #require(try await self.connect(presenting: leaf, trust: .fingerprint(pinned)))
        #expect(error.kind == .certificate)
        #expect(error.message.contains("does not match the pinned SHA256:AB:AB:"))
        #expect(error.message.contains("the certificate's fingerprint SHA256:"))
    }

    @Test func insecureAcceptsAnything() async throws {
        let leaf = try TestPKI.makeServer(dnsNames: ["mail.example.org"], issuer: nil)
        let error = try await self.connect(presenting: leaf, trust: .insecure, serverName: "pop.example.com")
        #expect(error == nil, "\(error?.message ?? "")")
    }

    @Test func handshakeTimesOutAgainstASilentServer() async throws {
        let server = try await ScriptedServer { peer in try await peer.drainUntilClosed() }
        defer { server.stop() }
        let start = ContinuousClock.now
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(
                    port: server.port,
                    security: .implicitTLS,
                    trust: .insecure,
                    timeout: .milliseconds(300)
                ),
                credentials: .userPass(user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .timeout)
        #expect(error?.message.contains("TLS handshake") == true)
        #expect(
            ContinuousClock.now - start < TestTimeScale.scaled(.seconds(30)),
            "the configured 300 ms timeout ended it, not a hang"
        )
        try await server.finish()
    }

    @Test func startTLSThenLogin() async throws {
        let ca = try TestPKI.makeCA()
        let context = try TestPKI.makeServer(dnsNames: ["localhost"], issuer: ca).serverContext()
        let fake = FakePOP3(messages: [Array("Subject: over TLS\r\n\r\nhi\r\n".utf8)])
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nSTLS\r\nUSER\r\nPIPELINING\r\n.\r\n")
            try await peer.expect("STLS")
            try await peer.send("+OK begin TLS\r\n")
            try await peer.startTLS(context)
            try await fake.serve(peer, greet: false)
        }
        defer { server.stop() }
        let collector = ClientTest.Collector()
        try await POP3Connection.withConnection(
            configuration: ClientTest.configuration(
                port: server.port,
                security: .startTLS,
                trust: .caFile(try ca.writePEM()),
                serverName: "localhost"
            ),
            credentials: .userPass(user: "alice", password: "secret"),
            logger: ClientTest.logger
        ) { connection in
            // Capabilities were asked again over TLS: the pre-TLS PIPELINING is gone (RFC 2595 §4).
            #expect(!connection.supportsPipelining)
            #expect(connection.capabilities.contains(.uidl))
            try await connection.retrieve([1]) { collector.handle($0) }
            try await connection.quit()
        }
        try await server.finish()
        #expect(collector.messages[1] == Array("Subject: over TLS\r\n\r\nhi\r\n".utf8))
    }

    @Test func startTLSRequiredButNotOfferedIsUnsupported() async throws {
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nUSER\r\nUIDL\r\n.\r\n")
            // The client must leave without sending credentials.
            #expect(try await peer.readLine() == nil)
        }
        defer { server.stop() }
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port, security: .startTLS),
                credentials: .userPass(user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .unsupported)
        #expect(error?.message.contains("STLS") == true)
        try await server.finish()
    }

    @Test func plaintextInjectedAfterSTLSIsRefused() async throws {
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nSTLS\r\nUSER\r\n.\r\n")
            try await peer.expect("STLS")
            try await peer.send("+OK begin TLS\r\n+OK\r\nSASL PLAIN\r\n.\r\n")
            try await peer.drainUntilClosed()
        }
        defer { server.stop() }
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port, security: .startTLS, trust: .insecure),
                credentials: .userPass(user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .protocolViolation)
        #expect(error?.message.contains("STLS") == true)
        try await server.finish()
    }
}

@Suite("Fingerprint parsing")
struct FingerprintParsingTests {
    static let bytes: [UInt8] = (0..<32).map { UInt8($0 * 7 % 256) }

    @Test func parsesThePrintedFormAndPlainHex() throws {
        let printed =
            "SHA256:"
            + Self.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16, uppercase: true) }
            .joined(separator: ":")
        #expect(POP3ClientConfiguration.Trust.fingerprint(parsing: printed) == .fingerprint(Self.bytes))
        let plain = Self.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(POP3ClientConfiguration.Trust.fingerprint(parsing: " " + plain + " ") == .fingerprint(Self.bytes))
        #expect(POP3ClientConfiguration.Trust.fingerprint(parsing: "sha256:" + plain) == .fingerprint(Self.bytes))
    }

    @Test(arguments: ["", "SHA256:", "AB:CD", String(repeating: "g", count: 64), String(repeating: "a", count: 66)])
    func rejectsOtherText(_ text: String) {
        #expect(POP3ClientConfiguration.Trust.fingerprint(parsing: text) == nil)
    }
}
