// ProxyProtocol: what a PROXY protocol header says about the connection it precedes.
public import NIOCore

/// A decoded PROXY protocol header (HAProxy's doc/proxy-protocol.txt, versions 1 and 2).
///
/// ``source`` is the client's address as the proxy saw it. It is `nil` when the header says to
/// use the connection's own endpoints: a version 2 `LOCAL` command (the proxy's own health
/// check, §2.2), a version 1 `UNKNOWN` line (§2.1), or a version 2 family the receiver need
/// not implement (`AF_UNSPEC`, `AF_UNIX`, §2.2: "falls back to the UNSPEC mode").
public struct ProxyHeader: Hashable, Sendable {
    /// The protocol version the header was written in.
    public enum Version: Int, Hashable, Sendable {
        /// The human-readable line (§2.1).
        case v1 = 1
        /// The binary block (§2.2).
        case v2 = 2
    }

    public var version: Version
    /// The original client endpoint, or `nil`: use the connection's own peer address.
    public var source: SocketAddress?
    /// The address the client connected to, when the header carries one.
    public var destination: SocketAddress?

    public init(version: Version, source: SocketAddress?, destination: SocketAddress?) {
        self.version = version
        self.source = source
        self.destination = destination
    }
}

/// A header that does not match the specification; the receiver must close the connection
/// (§2.1: "Any sequence which does not exactly match the protocol must be discarded and cause
/// the receiver to abort the connection").
public struct ProxyHeaderError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Why the header was refused, for the log (never the peer's bytes).
    public var hint: String

    public init(hint: String) {
        self.hint = hint
    }

    public var description: String { "invalid PROXY header: \(self.hint)" }
}
