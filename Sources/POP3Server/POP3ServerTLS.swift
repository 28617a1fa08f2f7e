// POP3Server: the server's TLS context (RFC 8314: TLS 1.2 or newer).
import NIOSSL

enum POP3ServerTLS {
    /// Loads the PEM certificate chain and key; TLS 1.2 is the minimum.
    static func makeContext(_ files: POP3ServerConfiguration.TLSFiles) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificatePath).map {
            NIOSSLCertificateSource.certificate($0)
        }
        let key = try NIOSSLPrivateKey(file: files.keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain,
            privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}
