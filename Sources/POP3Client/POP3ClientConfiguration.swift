// Where and how the client connects.

import SASL

/// How to reach a POP3 server and how far to trust it.
///
/// - SeeAlso: [RFC 8314](https://datatracker.ietf.org/doc/html/rfc8314) (implicit TLS, port 995),
///   [RFC 2595 §4](https://datatracker.ietf.org/doc/html/rfc2595#section-4) (STLS, port 110).
public struct POP3ClientConfiguration: Sendable {
    /// The transport security.
    public enum Security: Sendable, Hashable {
        /// TLS from the first byte (RFC 8314 §3.3).
        case implicitTLS
        /// Plaintext until `STLS` (RFC 2595 §4); never falls back to plaintext.
        case startTLS
        /// No TLS at all: only when asked for by name.
        case plaintext
    }

    /// Which server certificates are accepted.
    public enum Trust: Sendable, Hashable {
        /// The system trust store plus hostname verification.
        case system
        /// A PEM file of trusted CA certificates plus hostname verification.
        case caFile(String)
        /// The SHA-256 digest of the leaf certificate's DER; no CA or hostname check.
        case fingerprint([UInt8])
        /// No verification at all (only when asked for).
        case insecure
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var trust: Trust
    /// The name sent in SNI and checked against the certificate; `host` when nil.
    public var serverName: String?
    /// Limit for the TCP connection to be established.
    public var connectTimeout: Duration
    /// Limit for a TLS handshake (implicit TLS or after STLS).
    public var tlsHandshakeTimeout: Duration
    /// Each response, and each chunk of a RETR/TOP body, must arrive within this time.
    public var commandTimeout: Duration
    /// The most commands in flight when the server supports PIPELINING (RFC 2449 §6.6).
    public var pipelineWindow: Int
    /// The most listed octets of `RETR` replies in flight when retrieving listed messages
    /// (``POP3Connection/retrieve(_:sendingWhile:_:)``): enough to keep a slow link busy, little
    /// enough that a caller who stops sending does not wait for much more. One command is
    /// always allowed, whatever its size.
    public var pipelineBytes: Int
    /// Longest status line accepted; longer ones are a protocol violation.
    public var maximumResponseLineLength: Int
    /// The most SCRAM-SHA-256 iterations the server may ask for (RFC 5802 §5.1 `i`); more ends
    /// the login with an ``POP3ClientError/Kind/authentication`` error. At most
    /// `SCRAM.maximumIterations`.
    public var scramMaximumIterations: Int

    public init(host: String, port: Int, security: Security, trust: Trust = .system) {
        self.host = host
        self.port = port
        self.security = security
        self.trust = trust
        self.serverName = nil
        self.connectTimeout = .seconds(30)
        self.tlsHandshakeTimeout = .seconds(30)
        self.commandTimeout = .seconds(60)
        self.pipelineWindow = 32
        self.pipelineBytes = 4 << 20
        self.maximumResponseLineLength = 8192
        self.scramMaximumIterations = SCRAMSHA256ClientMechanism.defaultMaximumIterations
    }

    /// The name for SNI and the certificate check.
    var effectiveServerName: String { self.serverName ?? self.host }
}
