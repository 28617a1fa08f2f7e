// A place where the POP3 service of an address may be, and how it was found.

/// How a connection is secured: implicit TLS (RFC 8314 §3.3), STLS (RFC 2595 §4), or none.
public enum ConnectionSecurity: String, Hashable, Sendable, CaseIterable {
    case implicitTLS = "implicit"
    case startTLS = "starttls"
    case plaintext = "none"

    /// The order of preference (RFC 8314 §5.1): implicit TLS, then STLS, then none.
    var preference: Int {
        switch self {
        case .implicitTLS: 0
        case .startTLS: 1
        case .plaintext: 2
        }
    }

    /// Words for people: "implicit TLS", "STLS", "no TLS".
    public var displayName: String {
        switch self {
        case .implicitTLS: "implicit TLS"
        case .startTLS: "STLS"
        case .plaintext: "no TLS"
        }
    }
}

/// A host, port and security to try.
public struct ServerCandidate: Hashable, Sendable, CustomStringConvertible {
    /// Where a candidate came from.
    public enum Source: Hashable, Sendable {
        /// An SRV record of this name (RFC 6186 §3).
        case srv(String)
        /// An autoconfig document at this address.
        case autoconfig(String)
        /// A common host name (`pop.DOMAIN`, `mail.DOMAIN`).
        case guess
        /// The user named the server.
        case given
    }

    public var host: String
    public var port: Int
    public var security: ConnectionSecurity
    public var source: Source
    /// The user name the source gives (autoconfig's `<username>`), if any.
    public var userName: String?

    public init(host: String, port: Int, security: ConnectionSecurity, source: Source, userName: String? = nil) {
        self.host = host.lowercased()
        self.port = port
        self.security = security
        self.source = source
        self.userName = userName
    }

    /// `pop.example.org:995 (implicit TLS)`.
    public var description: String { "\(self.host):\(self.port) (\(self.security.displayName))" }

    /// Where it came from, for people: "from the SRV record …", "as given".
    public var sourceDescription: String {
        switch self.source {
        case .srv(let name): "from the SRV record \(name)"
        case .autoconfig(let address): "from the autoconfig file \(address)"
        case .guess: "a common host name"
        case .given: "as given"
        }
    }
}
