// The configuration of one account to fetch from. The CLI lead fills it from flags or TOML.
import SASL

/// One POP3 account to download from.
public struct FetchAccount: Hashable, Sendable {
    /// How the connection is secured (RFC 8314 implicit TLS, RFC 2595 STLS, or none).
    public enum Security: String, Hashable, Sendable, Codable {
        /// TLS from the first byte (port 995, RFC 8314 §3.3).
        case implicitTLS = "implicit"
        /// `STLS` after the greeting (RFC 2595 §4); never falls back to cleartext.
        case startTLS = "starttls"
        /// No TLS (tests, loopback).
        case plaintext = "none"
    }

    /// Which server certificates are trusted.
    public enum Trust: Hashable, Sendable {
        /// The system's trust store and host name verification.
        case system
        /// CA certificates from this PEM file, and host name verification.
        case caFile(String)
        /// Exactly the leaf certificate with this SHA-256 (of its DER); no CA check.
        case fingerprint([UInt8])
        /// No verification (only when explicitly asked for).
        case insecure
    }

    /// How to authenticate (RFC 1939 §7 USER/PASS and APOP, RFC 5034 SASL).
    public enum AuthMechanism: String, Hashable, Sendable, Codable {
        /// SCRAM-SHA-256 if offered, else PLAIN, else USER/PASS.
        case automatic
        case userPass = "user"
        case apop
        case plain = "PLAIN"
        case login = "LOGIN"
        case scramSHA256 = "SCRAM-SHA-256"
        /// The password source yields an OAuth 2 access token.
        case xoauth2 = "XOAUTH2"
        /// The password source yields an OAuth 2 access token (RFC 7628).
        case oauthBearer = "OAUTHBEARER"
    }

    /// A name for reports and logs.
    public var name: String
    public var host: String
    public var port: Int
    public var security: Security
    public var trust: Trust
    public var user: String
    /// Where the password (or token) comes from; never a command-line argument.
    public var password: PasswordSource
    public var authMechanism: AuthMechanism
    public var policy: FetchPolicy
    public var target: DeliveryTarget
    /// The state file (SQLite); its lock file is `statePath + ".lock"`.
    public var statePath: String
    /// How many commands are outstanding at once when the server supports PIPELINING (RFC 2449
    /// §6.6), topped up as replies arrive (and at most 4 MiB of listed message size); also how
    /// many messages are stored as one group.
    public var pipelineWindow: Int
    /// The default `pipelineWindow`: deep enough that a link with tens of milliseconds of latency
    /// stays busy with small messages, and a group's fixed costs (one directory fsync, one
    /// transaction, one index update) are shared by many.
    public static let defaultPipelineWindow = 256
    /// How long to wait for each response or chunk of a message; connecting and the TLS
    /// handshake wait at most this long too (and never more than 30 seconds).
    public var timeout: Duration
    /// The most SCRAM-SHA-256 iterations the server may ask the client to compute (RFC 5802
    /// §5.1 `i`); a login asking for more is refused as an authentication failure.
    public var scramMaximumIterations: Int

    /// 100,000: see `SCRAMSHA256ClientMechanism.defaultMaximumIterations`.
    public static let defaultSCRAMMaximumIterations = SCRAMSHA256ClientMechanism.defaultMaximumIterations
    /// The values `scramMaximumIterations` may take: up to the library's hard ceiling.
    public static let scramIterationRange = 1...SCRAM.maximumIterations
    /// `scramIterationRange` for error messages.
    public static var scramIterationRangeText: String { "1–\(SCRAM.maximumIterations)" }

    public init(
        name: String,
        host: String,
        port: Int,
        security: Security,
        trust: Trust = .system,
        user: String,
        password: PasswordSource,
        authMechanism: AuthMechanism = .automatic,
        policy: FetchPolicy = FetchPolicy(),
        target: DeliveryTarget,
        statePath: String,
        pipelineWindow: Int = FetchAccount.defaultPipelineWindow,
        timeout: Duration = .seconds(60),
        scramMaximumIterations: Int = FetchAccount.defaultSCRAMMaximumIterations
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.security = security
        self.trust = trust
        self.user = user
        self.password = password
        self.authMechanism = authMechanism
        self.policy = policy
        self.target = target
        self.statePath = statePath
        self.pipelineWindow = pipelineWindow
        self.timeout = timeout
        self.scramMaximumIterations = scramMaximumIterations
    }

    /// The identity local names and the state are tied to: `user@host` (host in lower case).
    public var identity: String {
        "\(user)@\(host.lowercased())"
    }
}
