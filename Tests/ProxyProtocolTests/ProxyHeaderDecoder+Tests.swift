import NIOCore
import ProxyProtocol
import Testing

/// The PROXY protocol decoder against the examples and rules of HAProxy's
/// doc/proxy-protocol.txt: success, need-more (nothing consumed) and failure (nothing consumed).
@Suite struct ProxyHeaderDecoderTests {
    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// A version 2 header: signature, `ver_cmd`, `fam`, then `block` with its length.
    static func v2(_ versionCommand: UInt8, _ family: UInt8, _ block: [UInt8]) -> [UInt8] {
        v2Signature + [versionCommand, family, UInt8(block.count >> 8), UInt8(block.count & 0xFF)] + block
    }

    private func decode(_ bytes: [UInt8]) throws -> (header: ProxyHeader?, rest: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        let header = try ProxyHeaderDecoder().decode(&buffer)
        return (header, Array(buffer.readableBytesView))
    }

    @Test func version1TCP4() throws {
        let (header, rest) = try decode(Array("PROXY TCP4 192.0.2.7 198.51.100.1 40112 110\r\nCAPA\r\n".utf8))
        #expect(header?.version == .v1)
        #expect(header?.source == (try SocketAddress(ipAddress: "192.0.2.7", port: 40112)))
        #expect(header?.destination == (try SocketAddress(ipAddress: "198.51.100.1", port: 110)))
        #expect(rest == Array("CAPA\r\n".utf8), "exactly the header is consumed")
    }

    @Test func version1TCP6WorstCaseLength() throws {
        let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        let line = "PROXY TCP6 \(full) \(full) 65535 65535\r\n"
        #expect(line.utf8.count == 104)
        let (header, rest) = try decode(Array(line.utf8))
        #expect(header?.source?.ipAddress == full)
        #expect(header?.source?.port == 65535)
        #expect(rest.isEmpty)
        let short = try decode(Array("PROXY TCP6 2001:db8::5 ::1 5000 995\r\n".utf8))
        #expect(short.header?.source == (try SocketAddress(ipAddress: "2001:db8::5", port: 5000)))
    }

    @Test func version1UnknownUsesTheConnection() throws {
        #expect(
            try decode(Array("PROXY UNKNOWN\r\n".utf8)).header
                == ProxyHeader(version: .v1, source: nil, destination: nil)
        )
        let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        let worst = "PROXY UNKNOWN \(full) \(full) 65535 65535\r\n"
        #expect(worst.utf8.count == ProxyProtocolLimits.maximumVersion1Length)
        #expect(try decode(Array(worst.utf8)).header?.source == nil)
    }

    @Test(arguments: [
        "PROXY TCP4 192.0.2.7 198.51.100.1 40112 110\n",  // bare LF
        "PROXY TCP4 192.0.2.7 198.51.100.1 40112 110\rX",  // bare CR
        "PROXY TCP4 192.0.2.07 198.51.100.1 40112 110\r\n",  // leading zero: octal confusion
        "PROXY TCP4 192.0.2.7 198.51.100.1 040112 110\r\n",  // leading zero in a port
        "PROXY TCP4 192.0.2.7 198.51.100.1 65536 110\r\n",  // port out of range
        "PROXY TCP4 192.0.2.256 198.51.100.1 1 110\r\n",  // octet out of range
        "PROXY TCP4  192.0.2.7 198.51.100.1 1 110\r\n",  // two spaces
        "PROXY TCP4 2001:db8::5 ::1 1 110\r\n",  // family mismatch
        "PROXY TCP6 192.0.2.7 198.51.100.1 1 110\r\n",  // family mismatch
        "PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n",  // a field missing
        "PROXY UDP4 192.0.2.7 198.51.100.1 1 110\r\n",  // not a PROXY transport
        "PROXY TCP4 192.0.2.7 198.51.100.1 1 110 extra\r\n",
        "PROXY TCP4 ex\u{0}mple 198.51.100.1 1 110\r\n",  // a control character
        "PROXZ TCP4",  // not the signature
        "USER alice\r\n",  // a client speaking POP3 straight away
        "\u{16}\u{03}\u{01}\u{02}\u{00}",  // a TLS ClientHello on a PROXY listener
    ])
    func version1Refused(_ text: String) {
        var buffer = ByteBuffer(string: text)
        #expect(throws: ProxyHeaderError.self) { try ProxyHeaderDecoder().decode(&buffer) }
        #expect(buffer.readableBytes == text.utf8.count, "nothing is consumed on failure")
    }

    @Test func version1LineOverTheLimit() throws {
        let long = "PROXY UNKNOWN " + String(repeating: "a", count: 100)
        var buffer = ByteBuffer(string: long)
        #expect(throws: ProxyHeaderError.self) { try ProxyHeaderDecoder().decode(&buffer) }
        var room = ByteBuffer(string: String(long.prefix(ProxyProtocolLimits.maximumVersion1Length - 2)))
        #expect(try ProxyHeaderDecoder().decode(&room) == nil, "105 octets: CRLF may still come")
        var full = ByteBuffer(string: String(long.prefix(ProxyProtocolLimits.maximumVersion1Length - 1)))
        #expect(throws: ProxyHeaderError.self, "106 octets without CR: CRLF cannot end within 107") {
            try ProxyHeaderDecoder().decode(&full)
        }
        var late = ByteBuffer(string: String(long.prefix(ProxyProtocolLimits.maximumVersion1Length - 1)) + "\r\n")
        #expect(throws: ProxyHeaderError.self, "108 octets with CRLF") { try ProxyHeaderDecoder().decode(&late) }
    }

    @Test func version2TCP4() throws {
        let block: [UInt8] = [192, 0, 2, 7, 198, 51, 100, 1, 0x9C, 0xB0, 0x00, 0x6E]
        let (header, rest) = try decode(Self.v2(0x21, 0x11, block) + Array("CAPA\r\n".utf8))
        #expect(header?.version == .v2)
        #expect(header?.source == (try SocketAddress(ipAddress: "192.0.2.7", port: 40112)))
        #expect(header?.destination == (try SocketAddress(ipAddress: "198.51.100.1", port: 110)))
        #expect(rest == Array("CAPA\r\n".utf8))
    }

    @Test func version2TCP6WithTLVs() throws {
        let source: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [5]
        let destination: [UInt8] = Array(repeating: 0, count: 15) + [1]
        // A NOOP TLV (type 0x04) after the addresses is skipped with the block.
        let block = source + destination + [0x13, 0x88, 0x03, 0xE3] + [0x04, 0x00, 0x02, 0xAA, 0xBB]
        let (header, rest) = try decode(Self.v2(0x21, 0x21, block))
        #expect(header?.source == (try SocketAddress(ipAddress: "2001:db8::5", port: 5000)))
        #expect(header?.destination?.port == 995)
        #expect(rest.isEmpty)
    }

    @Test func version2LocalAndUnspecifiedUseTheConnection() throws {
        // LOCAL with an address block that must still be skipped (§2.2).
        let local = try decode(Self.v2(0x20, 0x11, [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2]) + [0x2B])
        #expect(local.header == ProxyHeader(version: .v2, source: nil, destination: nil))
        #expect(local.rest == [0x2B])
        #expect(try decode(Self.v2(0x21, 0x00, [])).header?.source == nil, "AF_UNSPEC")
        #expect(try decode(Self.v2(0x21, 0x31, Array(repeating: 0, count: 216))).header?.source == nil, "AF_UNIX")
    }

    @Test(arguments: [
        v2(0x11, 0x11, Array(repeating: 1, count: 12)),  // version 1 in a binary header
        v2(0x22, 0x11, Array(repeating: 1, count: 12)),  // unassigned command
        v2(0x21, 0x41, Array(repeating: 1, count: 12)),  // unassigned family
        v2(0x21, 0x13, Array(repeating: 1, count: 12)),  // unassigned transport
        v2(0x21, 0x11, Array(repeating: 1, count: 8)),  // block too short for IPv4
        v2(0x21, 0x21, Array(repeating: 1, count: 12)),  // block too short for IPv6
        v2Signature.prefix(6) + [0xFF],  // signature broken early
    ])
    func version2Refused(_ bytes: [UInt8]) {
        var buffer = ByteBuffer(bytes: bytes)
        #expect(throws: ProxyHeaderError.self) { try ProxyHeaderDecoder().decode(&buffer) }
        #expect(buffer.readableBytes == bytes.count)
    }

    @Test func version2BlockOverTheLimitIsRefusedBeforeItArrives() {
        // Only the fixed part: the announced length alone is enough to refuse.
        var buffer = ByteBuffer(bytes: Self.v2Signature + [0x21, 0x11, 0xFF, 0xFF])
        #expect(throws: ProxyHeaderError.self) { try ProxyHeaderDecoder().decode(&buffer) }
        var limited = ByteBuffer(bytes: Self.v2(0x21, 0x11, Array(repeating: 0, count: 64)))
        let decoder = ProxyHeaderDecoder(limits: ProxyProtocolLimits(maximumVersion2AddressBlock: 63))
        #expect(throws: ProxyHeaderError.self) { try decoder.decode(&limited) }
    }

    /// Drip-fed one byte at a time, each header decodes exactly once, at its last byte, and
    /// consumes nothing before.
    @Test(arguments: [
        Array("PROXY TCP4 192.0.2.7 198.51.100.1 40112 110\r\n".utf8),
        Array("PROXY UNKNOWN\r\n".utf8),
        v2(0x21, 0x11, [192, 0, 2, 7, 198, 51, 100, 1, 0x9C, 0xB0, 0x00, 0x6E]),
        v2(0x20, 0x00, []),
    ])
    func dripFed(_ bytes: [UInt8]) throws {
        var buffer = ByteBuffer()
        for (index, byte) in bytes.enumerated() {
            buffer.writeInteger(byte)
            let header = try ProxyHeaderDecoder().decode(&buffer)
            if index == bytes.count - 1 {
                #expect(header != nil)
                #expect(buffer.readableBytes == 0)
            } else {
                #expect(header == nil, "complete after \(index + 1) of \(bytes.count) bytes")
                #expect(buffer.readableBytes == index + 1)
            }
        }
    }
}
