// ProxyProtocol: the pure, incremental decoder for PROXY protocol headers v1 and v2.
public import NIOCore

/// Decodes the PROXY protocol header at the start of a connection's bytes (HAProxy's
/// doc/proxy-protocol.txt). Pure: it holds no channel state, reads no clock and does no I/O.
///
/// ```swift
/// var buffer = ByteBuffer(string: "PROXY TCP4 192.0.2.7 198.51.100.1 40112 110\r\nCAPA\r\n")
/// let header = try ProxyHeaderDecoder().decode(&buffer)   // buffer now starts at "CAPA"
/// ```
///
/// It accepts exactly one header and only the protocol (§1: the receiver "MUST not try to
/// guess whether the protocol header is present or not"): any other first byte is an error.
public struct ProxyHeaderDecoder: Sendable {
    public var limits: ProxyProtocolLimits

    public init(limits: ProxyProtocolLimits = ProxyProtocolLimits()) {
        self.limits = limits
    }

    /// The 12-octet version 2 signature (§2.2).
    static let version2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// `PROXY ` (§2.1).
    static let version1Prefix: [UInt8] = Array("PROXY ".utf8)

    /// Returns the header and consumes exactly its bytes; returns `nil` and consumes nothing
    /// while the header is incomplete; throws as soon as the bytes cannot be a valid header
    /// (the buffer is then left as it was).
    public func decode(_ buffer: inout ByteBuffer) throws(ProxyHeaderError) -> ProxyHeader? {
        let bytes = buffer.readableBytesView
        guard let first = bytes.first else { return nil }
        let decoded: (header: ProxyHeader, length: Int)?
        switch first {
        case Self.version1Prefix[0]:
            decoded = try Self.decodeVersion1(bytes)
        case Self.version2Signature[0]:
            decoded = try self.decodeVersion2(bytes)
        default:
            throw ProxyHeaderError(hint: "no PROXY signature")
        }
        guard let decoded else { return nil }
        buffer.moveReaderIndex(forwardBy: decoded.length)
        return decoded.header
    }

    /// Whether `bytes` begins like `expected` as far as both go.
    private static func matchesPrefix(_ bytes: ByteBufferView, _ expected: [UInt8]) -> Bool {
        zip(bytes, expected).allSatisfy { $0 == $1 }
    }

    // MARK: - Version 1

    // PROXY SP ( "TCP4" | "TCP6" ) SP srcaddr SP dstaddr SP srcport SP dstport CRLF
    // PROXY SP "UNKNOWN" [ anything ] CRLF                               (§2.1)
    private static func decodeVersion1(
        _ bytes: ByteBufferView
    ) throws(ProxyHeaderError) -> (header: ProxyHeader, length: Int)? {
        guard Self.matchesPrefix(bytes, Self.version1Prefix) else {
            throw ProxyHeaderError(hint: "no PROXY signature")
        }
        // §2.1: wait for CRLF within the first 107 octets (so a CR at offset 105 at the
        // latest); "must not tolerate a single CR or LF character to end the line".
        let lastCR = ProxyProtocolLimits.maximumVersion1Length - 2
        var lineEnd: Int?
        var offset = 0
        var index = bytes.startIndex
        while index < bytes.endIndex, offset <= lastCR {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") { throw ProxyHeaderError(hint: "version 1 line ends with a bare LF") }
            if byte == UInt8(ascii: "\r") {
                let next = bytes.index(after: index)
                guard next < bytes.endIndex else { return nil }
                guard bytes[next] == UInt8(ascii: "\n") else {
                    throw ProxyHeaderError(hint: "version 1 line has a bare CR")
                }
                lineEnd = offset
                break
            }
            guard byte >= 0x20, byte < 0x7F else { throw ProxyHeaderError(hint: "version 1 line is not ASCII text") }
            offset += 1
            index = bytes.index(after: index)
        }
        guard let lineEnd else {
            if offset > lastCR { throw ProxyHeaderError(hint: "version 1 line longer than 107 octets") }
            return nil
        }
        let line = bytes[bytes.startIndex..<bytes.index(bytes.startIndex, offsetBy: lineEnd)]
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        let length = lineEnd + 2
        guard fields.count >= 2 else { throw ProxyHeaderError(hint: "version 1 line has no protocol") }
        switch fields[1] {
        case "UNKNOWN":
            // "the receiver must ignore anything presented before the CRLF is found".
            return (ProxyHeader(version: .v1, source: nil, destination: nil), length)
        case "TCP4", "TCP6":
            guard fields.count == 6 else { throw ProxyHeaderError(hint: "version 1 line needs 6 fields") }
            let isV4 = fields[1] == "TCP4"
            guard let sourcePort = Self.port(fields[4]), let destinationPort = Self.port(fields[5]),
                let source = Self.address(fields[2], v4: isV4, port: sourcePort),
                let destination = Self.address(fields[3], v4: isV4, port: destinationPort)
            else { throw ProxyHeaderError(hint: "version 1 address or port is not canonical") }
            return (ProxyHeader(version: .v1, source: source, destination: destination), length)
        default:
            throw ProxyHeaderError(hint: "version 1 protocol is not TCP4, TCP6 or UNKNOWN")
        }
    }

    /// A decimal port in 0...65535 without leading zeros (§2.1).
    private static func port(_ text: String) -> Int? {
        guard (1...5).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            text == "0" || !text.hasPrefix("0"), let value = Int(text), value <= 65535
        else { return nil }
        return value
    }

    /// An address of the announced family in canonical form: IPv4 as four decimal numbers
    /// without leading zeros, IPv6 as hexadecimal groups (§2.1).
    private static func address(_ text: String, v4: Bool, port: Int) -> SocketAddress? {
        if v4 {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4,
                parts.allSatisfy({ part in
                    (1...3).contains(part.utf8.count) && part.utf8.allSatisfy { (0x30...0x39).contains($0) }
                        && (part == "0" || !part.hasPrefix("0")) && Int(part).map { $0 <= 255 } == true
                })
            else { return nil }
        } else {
            guard text.contains(":"),
                text.utf8.allSatisfy({ byte in
                    byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") || (0x30...0x39).contains(byte)
                        || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
                })
            else { return nil }
        }
        guard let address = try? SocketAddress(ipAddress: text, port: port) else { return nil }
        switch address {
        case .v4: return v4 ? address : nil
        case .v6: return v4 ? nil : address
        case .unixDomainSocket: return nil
        }
    }

    // MARK: - Version 2

    // sig[12] ver_cmd fam len[2] addresses [TLVs]                           (§2.2)
    private func decodeVersion2(
        _ bytes: ByteBufferView
    ) throws(ProxyHeaderError) -> (header: ProxyHeader, length: Int)? {
        guard Self.matchesPrefix(bytes, Self.version2Signature) else {
            throw ProxyHeaderError(hint: "no PROXY signature")
        }
        let fixed = ProxyProtocolLimits.version2FixedLength
        guard bytes.count >= fixed else { return nil }
        let start = bytes.startIndex
        let versionAndCommand = bytes[start + 12]
        let familyAndProtocol = bytes[start + 13]
        let blockLength = Int(bytes[start + 14]) << 8 | Int(bytes[start + 15])
        // "the receiver must only accept this value" (version 2).
        guard versionAndCommand >> 4 == 0x2 else {
            throw ProxyHeaderError(hint: "version 2 header has version \(versionAndCommand >> 4)")
        }
        let command = versionAndCommand & 0x0F
        // "Receivers must drop connections presenting unexpected values here."
        guard command <= 0x1 else { throw ProxyHeaderError(hint: "version 2 command \(command) is unassigned") }
        let family = familyAndProtocol >> 4
        let transport = familyAndProtocol & 0x0F
        guard family <= 0x3, transport <= 0x2 else {
            throw ProxyHeaderError(hint: "version 2 family or protocol is unassigned")
        }
        guard blockLength <= self.limits.maximumVersion2AddressBlock else {
            throw ProxyHeaderError(hint: "version 2 address block of \(blockLength) octets is over the limit")
        }
        guard bytes.count >= fixed + blockLength else { return nil }
        let length = fixed + blockLength
        let useConnection = (ProxyHeader(version: .v2, source: nil, destination: nil), length)
        // LOCAL: "must use the real connection endpoints and discard the protocol block".
        // UNSPEC, AF_UNIX and DGRAM fall back to the UNSPEC mode, which the spec allows.
        guard command == 0x1, transport == 0x1, family == 0x1 || family == 0x2 else { return useConnection }
        let addressLength = family == 0x1 ? 4 : 16
        guard blockLength >= 2 * addressLength + 4 else {
            throw ProxyHeaderError(hint: "version 2 address block too short for its family")
        }
        let block = start + fixed
        func address(at offset: Int, portAt portOffset: Int) throws(ProxyHeaderError) -> SocketAddress {
            let packed = ByteBuffer(bytes: bytes[(block + offset)..<(block + offset + addressLength)])
            let port = Int(bytes[block + portOffset]) << 8 | Int(bytes[block + portOffset + 1])
            do {
                return try SocketAddress(packedIPAddress: packed, port: port)
            } catch {
                throw ProxyHeaderError(hint: "version 2 address is not an IP address")
            }
        }
        let source = try address(at: 0, portAt: 2 * addressLength)
        let destination = try address(at: addressLength, portAt: 2 * addressLength + 2)
        return (ProxyHeader(version: .v2, source: source, destination: destination), length)
    }
}
