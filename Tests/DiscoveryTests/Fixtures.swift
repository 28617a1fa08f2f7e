import POP3Client

enum POP3ServerCertificateFixture {
    static let selfSigned = POP3ServerCertificate(
        subject: "CN=self-signed",
        issuer: "CN=self-signed",
        names: ["pop.example.org"],
        sha256: [UInt8](repeating: 0xAB, count: 32)
    )
}
