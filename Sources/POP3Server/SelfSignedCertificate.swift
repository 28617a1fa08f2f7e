// POP3Server: a self-signed certificate for first start (the only file here using Foundation).
import Crypto
import Foundation
import SwiftASN1
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
        let manager = FileManager.default
        let certificatePath = (directory as NSString).appendingPathComponent("cert.pem")
        let keyPath = (directory as NSString).appendingPathComponent("key.pem")
        let files = POP3ServerConfiguration.TLSFiles(certificatePath: certificatePath, keyPath: keyPath)
        if manager.fileExists(atPath: certificatePath), manager.fileExists(atPath: keyPath) { return files }
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (certificatePEM, keyPEM) = try make(commonName: commonName, extraHostnames: extraHostnames)
        guard manager.createFile(atPath: keyPath, contents: Data(keyPEM.utf8), attributes: [.posixPermissions: 0o600])
        else { throw POP3Server.StartupError(description: "cannot write \(keyPath)") }
        try Data(certificatePEM.utf8).write(to: URL(fileURLWithPath: certificatePath), options: .atomic)
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
