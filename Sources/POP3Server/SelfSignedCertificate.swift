// POP3Server: a self-signed certificate for first start.
import Crypto
import FileIO
import Foundation
import SwiftASN1
import SystemPackage
import X509

/// Makes the self-signed certificate the server uses when none is configured.
public enum SelfSignedCertificate {
    /// Writes `cert.pem` and `key.pem` into `directory` unless both exist; returns their paths.
    ///
    /// The certificate: P-256 key, valid for ten years, subject `CN=<commonName>`, SAN
    /// `localhost`, `127.0.0.1`, `::1` plus `extraHostnames`. KeyUsage includes `keyCertSign`
    /// and BasicConstraints says CA, so BoringSSL-based clients (NIOSSL) accept it when pinned
    /// as a trust root (TOOLCHAIN.md, TLS). The key file is written with mode 0600.
    public static func ensure(
        in directory: String,
        commonName: String = "localhost",
        extraHostnames: [String] = []
    ) throws -> POP3ServerConfiguration.TLSFiles {
        let root = FilePath(directory)
        let certificatePath = root.appending("cert.pem")
        let keyPath = root.appending("key.pem")
        let files = POP3ServerConfiguration.TLSFiles(certificatePath: certificatePath.string, keyPath: keyPath.string)
        if try FileSystem.status(certificatePath) != nil, try FileSystem.status(keyPath) != nil { return files }
        try FileSystem.createDirectories(root, permissions: 0o755)
        let (certificatePEM, keyPEM) = try make(commonName: commonName, extraHostnames: extraHostnames)
        try FileSystem.replaceAtomically(keyPath, with: Array(keyPEM.utf8), permissions: 0o600)
        try FileSystem.replaceAtomically(certificatePath, with: Array(certificatePEM.utf8), permissions: 0o644)
        return files
    }

    /// A new certificate and key, both PEM.
    public static func make(commonName: String = "localhost", extraHostnames: [String] = []) throws -> (
        certificatePEM: String, keyPEM: String
    ) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        var names: [GeneralName] = [
            .dnsName("localhost"),
            .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
            .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
        ]
        names += extraHostnames.filter { $0 != "localhost" }.map { .dnsName($0) }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + 10 * 365 * 86400,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(key)
        )
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }
}
