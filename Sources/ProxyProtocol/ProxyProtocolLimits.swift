// ProxyProtocol: the sizes a receiver accepts, named (GUIDE B4).

/// Limits on a PROXY protocol header. Past them the header is invalid and the connection is
/// closed, so a peer cannot make the receiver buffer without bound.
public struct ProxyProtocolLimits: Hashable, Sendable {
    /// The longest version 1 line, CRLF included: 107 octets, the worst case the
    /// specification computes (`PROXY UNKNOWN` with two full IPv6 addresses, §2.1).
    public static let maximumVersion1Length = 107

    /// The fixed part of a version 2 header: signature, version and command, family, length.
    public static let version2FixedLength = 16

    /// The largest version 2 address block (addresses, ports and TLVs) accepted. The field
    /// allows 65,535 octets; HAProxy's addresses and its usual TLVs (ALPN, authority, SSL
    /// information, unique ID) fit well within 1,024, so more is treated as hostile.
    public var maximumVersion2AddressBlock: Int

    public init(maximumVersion2AddressBlock: Int = 1024) {
        self.maximumVersion2AddressBlock = maximumVersion2AddressBlock
    }
}
