// POP3Server: the client's address as logs and policies see it.
public import NIOCore

/// A peer's IP address and port; `description` is `IPv4:port` or `[IPv6]:port`.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    /// The IP address text, or `unknown`.
    public let ip: String
    public let port: Int?
    /// 127.0.0.0/8, ::1 or an IPv4-mapped loopback address.
    public let isLoopback: Bool
    /// What failed-login delays, bans and the per-client connection cap are counted per: the
    /// IPv4 address, or the /64 network of an IPv6 address (one host usually has a whole /64
    /// to pick addresses from).
    public let clientKey: String
    /// The address itself (trusted-network checks), when known.
    public let address: SocketAddress?

    public init(_ address: SocketAddress?) {
        self.address = address
        self.ip = address?.ipAddress ?? "unknown"
        self.port = address?.port
        switch address {
        case .v4:
            self.isLoopback = self.ip.hasPrefix("127.")
            self.clientKey = self.ip
        case .v6:
            self.isLoopback = self.ip == "::1" || self.ip.hasPrefix("::ffff:127.")
            self.clientKey = Self.networkKey(ipv6: self.ip)
        case .unixDomainSocket, .none:
            self.isLoopback = false
            self.clientKey = self.ip
        }
    }

    /// `a:b:c:d::/64` for an IPv6 address text; the IPv4 address for an IPv4-mapped one.
    static func networkKey(ipv6 text: String) -> String {
        let address = text.lowercased().split(separator: "%", maxSplits: 1).first.map(String.init) ?? ""
        if address.hasPrefix("::ffff:"), address.contains(".") { return String(address.dropFirst(7)) }
        let halves = address.split(separator: "::", omittingEmptySubsequences: false)
        let head = halves.first.map { $0.split(separator: ":").map(String.init) } ?? []
        let tail = halves.count > 1 ? halves[1].split(separator: ":").map(String.init) : []
        guard halves.count <= 2, head.count + tail.count <= 8 else { return address }
        let groups = head + Array(repeating: "0", count: 8 - head.count - tail.count) + tail
        let network = groups.prefix(4).map { group in
            let trimmed = group.drop { $0 == "0" }
            return trimmed.isEmpty ? "0" : String(trimmed)
        }
        return network.joined(separator: ":") + "::/64"
    }

    public var description: String {
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return port.map { "\(host):\($0)" } ?? host
    }
}
