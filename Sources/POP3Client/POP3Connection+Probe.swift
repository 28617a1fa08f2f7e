// Probing a server before an account exists: what it offers, without sending credentials
// (RFC 8314 §5.2: only capability discovery and STLS before TLS meets the minimum level).

public import Logging
public import POP3Core

/// What a server showed before login: enough to choose how to connect to it.
public struct POP3ServerProbe: Sendable {
    /// The capabilities CAPA listed (after STLS when the probe used it); empty when CAPA failed.
    public var capabilities: [Capability]
    /// Whether the session was secured by TLS (implicit, or after STLS).
    public var secured: Bool

    public init(capabilities: [Capability], secured: Bool) {
        self.capabilities = capabilities
        self.secured = secured
    }

    /// Whether the server offered STLS (RFC 2595 §4); meaningful for a plaintext probe.
    public var offersSTLS: Bool { self.capabilities.contains(.stls) }
}

extension POP3Connection {
    /// Connects, reads the greeting, does STLS when `configuration` asks for it, asks CAPA and
    /// ends with QUIT (RFC 1939 §6: QUIT in AUTHORIZATION changes nothing). No credentials are
    /// sent. Throws as ``withConnection(configuration:credentials:logger:_:)`` does; a certificate
    /// that does not verify gives ``POP3ClientError/Kind/certificate`` with
    /// ``POP3ClientError/certificate`` set, and a plaintext probe of a server without STLS
    /// succeeds with ``POP3ServerProbe/offersSTLS`` false.
    public static func probe(configuration: POP3ClientConfiguration, logger: Logger) async throws -> POP3ServerProbe {
        try await Self.session(configuration: configuration, credentials: nil, logger: logger) { connection in
            let probe = POP3ServerProbe(
                capabilities: connection.capabilities,
                secured: configuration.security != .plaintext
            )
            // A polite end; the answer does not matter, the capabilities are known.
            try? await connection.quit()
            return probe
        }
    }
}
