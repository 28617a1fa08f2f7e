// ProxyProtocol: an IP network in CIDR notation, for the trusted-proxy and trusted-network lists.
public import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 network, `192.0.2.0/24`, `2001:db8::/32`, or one address (`10.0.0.5` is
/// `10.0.0.5/32`). An IPv4 network also matches the IPv4-mapped IPv6 form of its addresses
/// (`::ffff:10.0.0.5`), which a listener bound to `::` sees.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The network's address bytes (4 or 16), host bits cleared.
    public let bytes: [UInt8]
    /// The prefix length in bits.
    public let prefixLength: Int

    /// Parses `ADDRESS` or `ADDRESS/BITS`; nil when either part is invalid or host bits are set.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = try? SocketAddress(ipAddress: String(parts[0]), port: 0),
            let bytes = Self.bytes(of: address)
        else { return nil }
        let bits = bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard (1...3).contains(parts[1].utf8.count), parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let value = Int(parts[1]), value <= bits
            else { return nil }
            prefix = value
        }
        guard Self.masked(bytes, prefix) == bytes else { return nil }
        self.bytes = bytes
        self.prefixLength = prefix
    }

    /// Whether `address` is in this network.
    public func contains(_ address: SocketAddress) -> Bool {
        guard var candidate = Self.bytes(of: address) else { return false }
        if self.bytes.count == 4, candidate.count == 16, candidate.prefix(12) == Self.mappedPrefix[...] {
            candidate = Array(candidate.suffix(4))
        }
        guard candidate.count == self.bytes.count else { return false }
        return Self.masked(candidate, self.prefixLength) == self.bytes
    }

    public var description: String {
        let address =
            (try? SocketAddress(packedIPAddress: ByteBuffer(bytes: self.bytes), port: 0))?.ipAddress ?? "?"
        return "\(address)/\(self.prefixLength)"
    }

    /// `::ffff:0:0/96`, the IPv4-mapped IPv6 prefix (RFC 4291 §2.5.5.2).
    private static let mappedPrefix: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]

    /// The packed address of an IP socket address (network byte order); nil for a Unix socket.
    static func bytes(of address: SocketAddress) -> [UInt8]? {
        guard let text = address.ipAddress else { return nil }
        switch address {
        case .v4: return Self.packed(text, family: AF_INET, count: 4)
        case .v6: return Self.packed(text, family: AF_INET6, count: 16)
        case .unixDomainSocket: return nil
        }
    }

    /// `inet_pton` into `count` bytes.
    private static func packed(_ text: String, family: Int32, count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        let result = bytes.withUnsafeMutableBytes { inet_pton(family, text, $0.baseAddress) }
        return result == 1 ? bytes : nil
    }

    private static func masked(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = min(8, max(0, prefix - index * 8))
            return bits == 8 ? byte : byte & ~(UInt8(0xFF) >> bits)
        }
    }
}
