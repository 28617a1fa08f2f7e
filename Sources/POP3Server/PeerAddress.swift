// POP3Server: the client's address as logs and policies see it.
public import NIOCore

/// A peer's IP address and port; `description` is `IPv4:port` or `[IPv6]:port`.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    /// The IP address text, or `unknown`.
    public let ip: String
    public let port: Int?
    /// 127.0.0.0/8, ::1 or an IPv4-mapped loopback address.
    public let isLoopback: Bool

    public init(_ address: SocketAddress?) {
        self.ip = address?.ipAddress ?? "unknown"
        self.port = address?.port
        switch address {
        case .v4:
            self.isLoopback = self.ip.hasPrefix("127.")
        case .v6:
            self.isLoopback = self.ip == "::1" || self.ip.hasPrefix("::ffff:127.")
        case .unixDomainSocket, .none:
            self.isLoopback = false
        }
    }

    public var description: String {
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return port.map { "\(host):\($0)" } ?? host
    }
}
