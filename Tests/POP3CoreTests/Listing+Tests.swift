import MailCore
import NIOCore
import POP3Core
import Testing

@Suite("Listing encoder")
struct ListingTests {
    static let messages: [ServerSession.MessageInfo] = (1...1000).map {
        .init(size: $0 * 37, uniqueID: UniqueID(unchecked: "uid-\($0)"))
    }

    static func encode(_ listing: Listing, piece: Int) -> ByteBuffer {
        var encoder = ListingEncoder(listing)
        var buffer = ByteBuffer()
        var rounds = 0
        while !encoder.isFinished {
            encoder.encode(into: &buffer, atLeast: piece)
            rounds += 1
        }
        #expect(rounds >= 1)
        return buffer
    }

    @Test func sizesAndUniqueIDsSkipDeletedMessages() {
        var deleted = Array(repeating: false, count: Self.messages.count)
        for index in stride(from: 0, to: deleted.count, by: 3) { deleted[index] = true }
        let sizes = Listing(.sizes, messages: Self.messages, deleted: deleted)
        let uids = Listing(.uniqueIDs, messages: Self.messages, deleted: deleted)
        let live = Self.messages.indices.filter { !deleted[$0] }
        #expect(sizes.lines == live.map { "\($0 + 1) \(($0 + 1) * 37)" })
        #expect(uids.lines == live.map { "\($0 + 1) uid-\($0 + 1)" })
        let wire = String(buffer: Self.encode(uids, piece: 1 << 20))
        #expect(wire.hasPrefix("2 uid-2\r\n3 uid-3\r\n5 uid-5\r\n"))
        #expect(wire.hasSuffix("998 uid-998\r\n999 uid-999\r\n.\r\n"), "message 1000 is deleted")
    }

    /// Any piece size gives the same bytes, and each piece ends on a line boundary.
    @Test(arguments: [1, 7, 64, 1000, 1 << 16])
    func piecesJoinToTheWholeListing(piece: Int) {
        let listing = Listing(.uniqueIDs, messages: Self.messages)
        let whole = Self.encode(listing, piece: 1 << 30)
        var encoder = ListingEncoder(listing)
        var joined = ByteBuffer()
        while !encoder.isFinished {
            var part = ByteBuffer()
            encoder.encode(into: &part, atLeast: piece)
            #expect(part.readableBytesView.last == UInt8(ascii: "\n"))
            #expect(part.readableBytes < piece + 32, "a piece stops within one line of its size")
            joined.writeImmutableBuffer(part)
        }
        #expect(joined == whole)
    }

    @Test func emptyListingIsTheTerminatorAlone() {
        #expect(String(buffer: Self.encode(Listing(.sizes), piece: 1)) == ".\r\n")
        #expect(Listing(.sizes).lines.isEmpty)
    }

    /// A capability line that starts with a dot is stuffed (RFC 1939 §3).
    @Test func capabilitiesAreStuffed() {
        let listing = Listing(.capabilities([.top, .other(name: ".ODD", parameters: ["x"]), .uidl]))
        #expect(String(buffer: Self.encode(listing, piece: 1)) == "TOP\r\n..ODD x\r\nUIDL\r\n.\r\n")
        #expect(listing.lines == ["TOP", ".ODD x", "UIDL"])
    }

    @Test(arguments: [0, 7, 10, 99, 1_234_567, Int.max, -1, -42, Int.min])
    func decimals(value: Int) {
        var buffer = ByteBuffer()
        let written = buffer.writeDecimal(value)
        #expect(String(buffer: buffer) == String(value))
        #expect(written == String(value).utf8.count)
    }
}

@Suite("Response encoding")
struct ResponseEncodingTests {
    @Test(
        arguments: [
            (Response.ok(""), "+OK\r\n"),
            (Response.ok("2 320"), "+OK 2 320\r\n"),
            (Response.err("maildrop locked", code: .inUse), "-ERR [IN-USE] maildrop locked\r\n"),
            (Response.err("", code: .sysTemp), "-ERR [SYS/TEMP]\r\n"),
            (Response.ok("a\r\nb\tc\u{7F}d"), "+OK a  b c d\r\n"),
            (Response.err("x", code: .other("A\nB")), "-ERR [A B] x\r\n"),
            (Response.ok("jörg"), "+OK jörg\r\n"),
        ]
    )
    func wireForm(response: Response, wire: String) {
        var buffer = ByteBuffer()
        let written = buffer.writePOP3Response(response)
        #expect(String(buffer: buffer) == wire)
        #expect(written == wire.utf8.count)
        // The wire form is the description with control characters blanked.
        let described = String(
            decoding: response.description.utf8.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: " ") : $0 },
            as: UTF8.self
        )
        #expect(wire == described + "\r\n")
    }
}
