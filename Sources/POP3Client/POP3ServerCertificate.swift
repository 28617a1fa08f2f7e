// The certificate a server presented, as a person needs to see it to decide whether to pin it
// (RFC 8314 §5.4): who it names, who issued it, and its SHA-256 fingerprint.

import Crypto
import X509

/// A server's leaf certificate, described for a person.
///
/// Carried by a ``POP3ClientError`` of kind ``POP3ClientError/Kind/certificate`` so that account
/// setup can show the certificate that did not verify and offer to pin it by its fingerprint
/// ([RFC 8314 §5.4](https://datatracker.ietf.org/doc/html/rfc8314#section-5.4)).
public struct POP3ServerCertificate: Sendable, Hashable {
    /// The subject's distinguished name, e.g. `CN=pop.example.org`.
    public var subject: String
    /// The issuer's distinguished name (the subject again when self-signed).
    public var issuer: String
    /// The DNS names and IP addresses the certificate is for (its subject alternative names).
    public var names: [String]
    /// SHA-256 of the certificate's DER encoding: what ``POP3ClientConfiguration/Trust/fingerprint(_:)`` pins.
    public var sha256: [UInt8]

    public init(subject: String, issuer: String, names: [String], sha256: [UInt8]) {
        self.subject = subject
        self.issuer = issuer
        self.names = names
        self.sha256 = sha256
    }

    /// `SHA256:AB:CD:…`, the form `--fingerprint` takes and `openssl x509 -fingerprint -sha256` prints.
    public var fingerprint: String { CertificateCheck.format(self.sha256) }

    /// Whether the certificate names itself as its issuer.
    public var isSelfSigned: Bool { self.subject == self.issuer }

    init(_ certificate: Certificate, der: [UInt8]) {
        self.init(
            subject: "\(certificate.subject)",
            issuer: "\(certificate.issuer)",
            names: CertificateCheck.nameList(in: certificate),
            sha256: Array(SHA256.hash(data: der))
        )
    }
}
