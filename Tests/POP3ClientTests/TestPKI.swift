// Certificates made at test time: a CA, server certificates it signs, and self-signed ones.

import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A private key and its certificate.
struct TestIdentity: Sendable {
    let key: P256.Signing.PrivateKey
    let certificate: Certificate

    var derBytes: [UInt8] {
        var serializer = DER.Serializer()
        try! serializer.serialize(self.certificate)  // safe: a certificate we just built
        return serializer.serializedBytes
    }

    var pem: String { try! self.certificate.serializeAsPEM().pemString }  // safe: as above

    var sha256: [UInt8] { Array(SHA256.hash(data: self.derBytes)) }

    /// A TLS server context presenting this certificate (and `chain` after it).
    func serverContext(chain: [TestIdentity] = []) throws -> NIOSSLContext {
        let certificates = try ([self] + chain).map { try NIOSSLCertificate(bytes: $0.derBytes, format: .der) }
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(self.key.pemRepresentation.utf8), format: .pem))
        )
        return try NIOSSLContext(configuration: configuration)
    }

    /// Writes the certificate as PEM to a fresh temporary file and returns its path.
    func writePEM() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString).pem").path
        try self.pem.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

enum TestPKI {
    static func makeCA(name: String = "PostOffice Test CA") throws -> TestIdentity {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3600),
            notValidAfter: Date().addingTimeInterval(86400),
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return TestIdentity(key: key, certificate: certificate)
    }

    /// A server certificate for `dnsNames` (and 127.0.0.1), signed by `issuer`, or self-signed.
    static func makeServer(dnsNames: [String], issuer: TestIdentity?) throws -> TestIdentity {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(dnsNames.first ?? "server") }
        let sans =
            dnsNames.map { GeneralName.dnsName($0) } + [.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3600),
            notValidAfter: Date().addingTimeInterval(86400),
            issuer: issuer?.certificate.subject ?? subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                // keyCertSign lets BoringSSL-based peers accept a self-signed leaf (TOOLCHAIN.md).
                Critical(KeyUsage(digitalSignature: true, keyCertSign: issuer == nil))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(sans)
            },
            issuerPrivateKey: Certificate.PrivateKey(issuer?.key ?? key)
        )
        return TestIdentity(key: key, certificate: certificate)
    }
}
