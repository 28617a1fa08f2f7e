// TLS client configuration from a `Trust` (GUIDE B6/B7; TOOLCHAIN "TLS").

import NIOCore
import NIOPosix
import NIOSSL
import SwiftASN1
import X509

/// The NIOSSL context and certificate check for one connection.
struct TLSSetup: Sendable {
    let context: NIOSSLContext
    let check: CertificateCheck?
    /// SNI: not sent for an IP literal (RFC 6066 §3).
    let sniName: String?

    init(configuration: POP3ClientConfiguration) async throws {
        let serverName = configuration.effectiveServerName
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        // Our callback does the verification, so NIOSSL needs no roots of its own.
        tlsConfiguration.trustRoots = .certificates([])
        switch configuration.trust {
        case .insecure:
            tlsConfiguration.certificateVerification = .none
            self.check = nil
        case .fingerprint(let digest):
            self.check = CertificateCheck(mode: .fingerprint(digest), serverName: serverName)
        case .system:
            self.check = CertificateCheck(mode: .roots(CertificateStore.systemTrustRoots), serverName: serverName)
        case .caFile(let path):
            let certificates: [Certificate]
            do {
                certificates = try await NIOThreadPool.singleton.runIfActive {
                    try NIOSSLCertificate.fromPEMFile(path).map { try Certificate(derEncoded: $0.toDERBytes()) }
                }
            } catch {
                throw POP3ClientError(kind: .tls, message: "could not read the CA file \(path): \(error)")
            }
            guard !certificates.isEmpty else {
                throw POP3ClientError(kind: .tls, message: "the CA file \(path) holds no certificate")
            }
            self.check = CertificateCheck(mode: .roots(CertificateStore(certificates)), serverName: serverName)
        }
        do {
            self.context = try NIOSSLContext(configuration: tlsConfiguration)
        } catch {
            throw POP3ClientError(kind: .tls, message: "could not set up TLS: \(error)")
        }
        self.sniName = CertificateCheck.isIPAddress(serverName) ? nil : serverName
    }

    /// A handler for one connection; call on the channel's event loop.
    func makeHandler() throws -> NIOSSLClientHandler {
        if let check = self.check {
            return try NIOSSLClientHandler(
                context: self.context,
                serverHostname: self.sniName,
                customVerificationCallback: check.callback
            )
        }
        return try NIOSSLClientHandler(context: self.context, serverHostname: self.sniName)
    }
}
