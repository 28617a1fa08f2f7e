// Test support: a certificate authority made at test time (swift-certificates), and a
// server certificate it issued for localhost, 127.0.0.1 and ::1.
import Crypto
import Foundation
public import NIOSSL
import SwiftASN1
import X509

/// A throwaway CA and a server certificate signed by it.
public struct TestCertificateAuthority: Sendable {
    public let caCertificatePEM: String
    public let serverCertificatePEM: String
    public let serverKeyPEM: String

    /// A CA and a server certificate for `serverDNSNames`, 127.0.0.1 and ::1.
    public init(serverDNSNames: [String] = ["localhost"]) throws {
        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("PostOffice Test CA") }
        let ca = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(caKey.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + 86400,
            issuer: caName,
            subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(caKey)
        )
        let serverKey = P256.Signing.PrivateKey()
        let server = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(serverKey.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + 86400,
            issuer: caName,
            subject: try DistinguishedName { CommonName(serverDNSNames.first ?? "localhost") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(
                    serverDNSNames.map { .dnsName($0) } + [
                        .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                        .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
                    ]
                )
            },
            issuerPrivateKey: .init(caKey)
        )
        self.caCertificatePEM = try ca.serializeAsPEM().pemString
        self.serverCertificatePEM = try server.serializeAsPEM().pemString
        self.serverKeyPEM = serverKey.pemRepresentation
    }

    /// A client context that trusts only this CA.
    public func clientContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([
            try NIOSSLCertificate(bytes: Array(caCertificatePEM.utf8), format: .pem)
        ])
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }

    /// Writes cert.pem and key.pem for the server into a new temporary directory.
    public func writeServerFiles() throws -> (certificatePath: String, keyPath: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pop3-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificate = directory.appendingPathComponent("cert.pem")
        let key = directory.appendingPathComponent("key.pem")
        try serverCertificatePEM.write(to: certificate, atomically: true, encoding: .utf8)
        try serverKeyPEM.write(to: key, atomically: true, encoding: .utf8)
        return (certificate.path, key.path)
    }
}
