import Foundation
import Logging
import NIOCore
import NIOPosix
import POP3Client
import POP3Server
import POP3TestSupport
import ServiceLifecycle
import TestTiming
import Testing

@testable import Discovery

#if canImport(Glibc)
    import Glibc
#endif

/// Our POP3Server on 127.0.0.1 port 0: a plain listener (with STLS when TLS is on) and an
/// implicit-TLS one, with a certificate for localhost from a test CA.
struct ProbeTarget {
    let plainPort: Int
    let tlsPort: Int?
    let caFile: String?

    static func with(tls: Bool, _ body: (ProbeTarget) async throws -> Void) async throws {
        let ca = tls ? try TestCertificateAuthority() : nil
        var listeners = [POP3ServerConfiguration.Listener(host: "127.0.0.1", port: 0, implicitTLS: false)]
        var files: POP3ServerConfiguration.TLSFiles?
        var caFile: String?
        if let ca {
            let written = try ca.writeServerFiles()
            files = .init(certificatePath: written.certificatePath, keyPath: written.keyPath)
            caFile = written.certificatePath + ".ca.pem"
            try ca.caCertificatePEM.write(toFile: caFile!, atomically: true, encoding: .utf8)  // safe: just set
            listeners.append(.init(host: "127.0.0.1", port: 0, implicitTLS: true))
        }
        let store = TestMailStore()
        _ = store.add(user: "alice", message: "Subject: one\r\n\r\nfirst\r\n")
        _ = store.add(user: "alice", message: "Subject: two\r\n\r\nsecond\r\n")
        let server = POP3Server(
            configuration: POP3ServerConfiguration(
                listeners: listeners,
                tls: files,
                authFailureDelay: 0,
                shutdownGracePeriod: .seconds(2),
                accountProvider: InMemoryAccounts(["alice": "secret"]),
                mailStore: store,
                logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
            )
        )
        try await withRunningService(server) { _ in
            let addresses = try await server.boundAddresses()
            try await body(
                ProbeTarget(
                    plainPort: addresses[0].port!,  // safe: bound
                    tlsPort: addresses.count > 1 ? addresses[1].port : nil,
                    caFile: caFile
                )
            )
        }
    }
}

@Suite("probing candidates with POP3Client")
struct ServerProberTests {
    static let logger = Logger(label: "probe") { _ in SwiftLogNoOpLogHandler() }

    static func prober(
        _ trust: POP3ClientConfiguration.Trust,
        resolve: (@Sendable (String) async throws -> [String])? = nil
    ) -> ServerProber {
        ServerProber(trust: trust, resolve: resolve, logger: Self.logger, timeout: TestTimeScale.scaled(.seconds(5)))
    }

    @Test func implicitTLSAndSTLSAreVerifiedWithTheCA() async throws {
        try await ProbeTarget.with(tls: true) { target in
            let prober = Self.prober(.caFile(target.caFile!))  // safe: TLS on
            let implicit = ServerCandidate(
                host: "localhost",
                port: target.tlsPort!,
                security: .implicitTLS,
                source: .given
            )
            let stls = ServerCandidate(host: "localhost", port: target.plainPort, security: .startTLS, source: .given)
            #expect(await prober.probe(implicit) == .verified)
            #expect(await prober.probe(stls) == .verified)
            // Implicit TLS on the plain port is no TLS at all.
            let wrongPort = ServerCandidate(
                host: "localhost",
                port: target.plainPort,
                security: .implicitTLS,
                source: .given
            )
            guard case .failed(let reason) = await prober.probe(wrongPort) else {
                Issue.record("TLS on a plaintext port was not refused")
                return
            }
            #expect(reason.contains("no TLS on port \(target.plainPort)"))
        }
    }

    @Test func anUntrustedCertificateComesBackToBeShown() async throws {
        try await ProbeTarget.with(tls: true) { target in
            let candidate = ServerCandidate(
                host: "localhost",
                port: target.tlsPort!,
                security: .implicitTLS,
                source: .guess
            )
            guard case .untrustedCertificate(let certificate, let reason) = await Self.prober(.system).probe(candidate)
            else {
                Issue.record("a certificate from an unknown CA was accepted")
                return
            }
            #expect(certificate.subject == "CN=localhost")
            #expect(certificate.issuer == "CN=PostOffice Test CA")
            #expect(certificate.names.contains("localhost"))
            #expect(certificate.fingerprint.hasPrefix("SHA256:") && certificate.fingerprint.count == 7 + 95)
            #expect(reason.contains("not trusted"))
            // Pinned, the same certificate is accepted.
            #expect(await Self.prober(.fingerprint(certificate.sha256)).probe(candidate) == .verified)
        }
    }

    @Test func theNameIsCheckedWhenTheAddressComesFromTheGivenDNS() async throws {
        try await ProbeTarget.with(tls: true) { target in
            let prober = Self.prober(.caFile(target.caFile!), resolve: { _ in ["127.0.0.1"] })  // safe: TLS on
            let right = ServerCandidate(
                host: "localhost",
                port: target.tlsPort!,
                security: .implicitTLS,
                source: .srv("x")
            )
            #expect(await prober.probe(right) == .verified)
            let wrong = ServerCandidate(
                host: "pop.example.test",
                port: target.tlsPort!,
                security: .implicitTLS,
                source: .srv("x")
            )
            guard case .untrustedCertificate(_, let reason) = await prober.probe(wrong) else {
                Issue.record("a certificate for another name was accepted")
                return
            }
            #expect(reason.contains("not pop.example.test"))
            let missing = Self.prober(.system, resolve: { _ in [] })
            #expect(
                await missing.probe(wrong) == .failed("pop.example.test does not exist (the DNS has no address for it)")
            )
        }
    }

    @Test func aServerWithoutTLSIsReportedAsSuch() async throws {
        try await ProbeTarget.with(tls: false) { target in
            let prober = Self.prober(.system)
            let stls = ServerCandidate(host: "127.0.0.1", port: target.plainPort, security: .startTLS, source: .guess)
            #expect(await prober.probe(stls) == .noTLS)
            let plain = ServerCandidate(host: "127.0.0.1", port: target.plainPort, security: .plaintext, source: .given)
            #expect(await prober.probe(plain) == .plaintext)
        }
    }

    @Test func nobodyListeningIsAFailureWithAReason() async throws {
        // A TCP port held by a socket that is bound but not listening: connecting is refused,
        // and no other test can take the port meanwhile.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(holder, $0, length) == 0 && getsockname(holder, $0, &length) == 0
            }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let candidate = ServerCandidate(host: "127.0.0.1", port: port, security: .implicitTLS, source: .guess)
        guard case .failed(let reason) = await Self.prober(.system).probe(candidate) else {
            Issue.record("expected a failure")
            return
        }
        #expect(reason.contains("connection refused"))
        #expect(!reason.contains("could not connect to"), "the candidate beside it names host and port")
    }

    @Test func theLoginCheckSaysWhatWaitsAndNamesARefusal() async throws {
        try await ProbeTarget.with(tls: true) { target in
            let prober = Self.prober(.caFile(target.caFile!))  // safe: TLS on
            let candidate = ServerCandidate(
                host: "localhost",
                port: target.tlsPort!,
                security: .implicitTLS,
                source: .given
            )
            let waiting = try await prober.checkLogin(candidate, user: "alice", password: "secret")
            #expect(waiting.count == 2)
            #expect(waiting.size > 0)
            do {
                _ = try await prober.checkLogin(candidate, user: "alice", password: "wrong")
                Issue.record("a wrong password was accepted")
            } catch let error as POP3ClientError {
                #expect(error.kind == .authentication)
                #expect(error.message.contains("refused the login for alice"))
            }
        }
    }
}
