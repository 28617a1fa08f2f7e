import Foundation
import NIOCore
import NIOSSL
import POP3Server
import POP3TestSupport
import Testing

/// The certificate the server makes for itself on first start.
@Suite("SelfSignedCertificate")
struct SelfSignedCertificateTests {
    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("pop3-cert-\(UUID().uuidString)").path
    }

    @Test func filesAreCreatedOnceWithAPrivateKeyAndThenReused() throws {
        let directory = Self.temporaryDirectory() + "/nested/tls"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try SelfSignedCertificate.ensure(in: directory)
        #expect(first.certificatePath == directory + "/cert.pem")
        #expect(first.keyPath == directory + "/key.pem")
        let keyAttributes = try FileManager.default.attributesOfItem(atPath: first.keyPath)
        #expect((keyAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let certificate = try String(contentsOfFile: first.certificatePath, encoding: .utf8)
        let key = try String(contentsOfFile: first.keyPath, encoding: .utf8)
        #expect(certificate.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(key.contains("PRIVATE KEY-----"))

        let second = try SelfSignedCertificate.ensure(in: directory)
        #expect(second == first)
        #expect(try String(contentsOfFile: second.certificatePath, encoding: .utf8) == certificate)
        #expect(try String(contentsOfFile: second.keyPath, encoding: .utf8) == key)
    }

    /// Both files are needed: with the key gone, a new pair is made (never a certificate
    /// paired with a key it was not made for).
    @Test func aMissingKeyMakesANewPair() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try SelfSignedCertificate.ensure(in: directory)
        let certificate = try String(contentsOfFile: files.certificatePath, encoding: .utf8)
        try FileManager.default.removeItem(atPath: files.keyPath)
        _ = try SelfSignedCertificate.ensure(in: directory)
        #expect(try String(contentsOfFile: files.certificatePath, encoding: .utf8) != certificate)
        // The new pair belongs together: BoringSSL refuses a key that does not match.
        _ = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(files.certificatePath).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: files.keyPath, format: .pem))
            )
        )
    }

    /// A client that trusts the generated certificate as its only root (NIOSSL, so
    /// BoringSSL) connects by name and by address; one trusting another root is refused.
    @Test func nioSSLClientTrustingItConnects() async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try SelfSignedCertificate.ensure(in: directory)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(files.certificatePath)
        let context = try NIOSSLContext(configuration: configuration)
        try await TestServer.with(configure: { Self.useImplicitTLS(files, &$0) }) { server in
            let port = try #require(server.tlsPort)
            // By name (SNI and the DNS SAN), and by address (no SNI; the IP SAN is checked).
            for hostname in ["localhost", nil] as [String?] {
                try await POP3LineClient.withConnection(port: port, tls: context, serverHostname: hostname) {
                    client async throws in
                    #expect(try await client.line() == "+OK PostOffice POP3 server ready")
                    #expect(try await client.command("QUIT").hasPrefix("+OK"))
                }
            }
            // NIOSSL also accepts the IP SAN matching the socket address whatever the name, so
            // the refusal to show is of a client that trusts another root.
            let stranger = try TestCertificateAuthority().clientContext()
            try await POP3LineClient.withConnection(port: port, tls: stranger, serverHostname: "localhost") {
                client async throws in
                #expect(try await client.readLine() == nil, "not signed by a trusted root")
            }
        }
    }

    /// Python's `ssl` (OpenSSL) with the certificate as its CA file, checking the host name,
    /// for `localhost` and for `127.0.0.1`.
    @Test(arguments: ["localhost", "127.0.0.1"])
    func pythonSSLClientTrustingItConnects(hostname: String) async throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try SelfSignedCertificate.ensure(in: directory)
        try await TestServer.with(configure: { Self.useImplicitTLS(files, &$0) }) { server in
            let port = try #require(server.tlsPort)
            let script = """
                import socket, ssl, sys
                context = ssl.create_default_context(cafile=sys.argv[1])
                with socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10) as raw:
                    with context.wrap_socket(raw, server_hostname=sys.argv[3]) as tls:
                        print(tls.makefile("rb").readline().decode().rstrip())
                        tls.sendall(b"QUIT\\r\\n")
                """
            let output = try await Self.run("python3", ["-c", script, files.certificatePath, "\(port)", hostname])
            #expect(output.status == 0, "python3 failed: \(output.text)")
            #expect(output.text == "+OK PostOffice POP3 server ready\n")
        }
    }

    static func useImplicitTLS(
        _ files: POP3ServerConfiguration.TLSFiles,
        _ configuration: inout POP3ServerConfiguration
    ) {
        configuration.tls = files
        configuration.listeners.append(.init(host: "127.0.0.1", port: 0, implicitTLS: true))
    }

    /// Runs a program found on PATH; returns its exit status and its output (stdout, stderr).
    static func run(_ program: String, _ arguments: [String]) async throws -> (status: Int32, text: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        return (status, String(decoding: data, as: UTF8.self))
    }
}
