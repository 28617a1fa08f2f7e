// Why discovery, a probe or the login check did not work, in words a person can act on.

/// A failure of account discovery. `message` is a sentence for people and names no secret.
public struct DiscoveryError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// The server answers but offers no TLS, and cleartext was not asked for (RFC 8314 §5.1).
    public var serverOffersNoTLS: Bool

    public init(_ message: String, serverOffersNoTLS: Bool = false) {
        self.message = message
        self.serverOffersNoTLS = serverOffersNoTLS
    }

    public var description: String { self.message }
}
