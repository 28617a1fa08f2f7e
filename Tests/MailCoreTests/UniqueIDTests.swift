import Foundation
import MailCore
import Testing

@Suite("Unique-ids (RFC 1939 §7)")
struct UniqueIDTests {
    @Test(
        "valid ids",
        arguments: [
            "a", "!", "~", "QhdPYR:00WBw1Ph7x7", "1234.M5P6.host", "~0123456789abcdef0123456789abcdef", "sha256-0123",
            String(repeating: "x", count: 70), "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        ]
    )
    func valid(_ id: String) {
        #expect(UniqueID.isValid(id.utf8))
        #expect(UniqueID(id)?.rawValue == id)
        #expect(UniqueID(bytes: Array(id.utf8))?.rawValue == id)
        #expect(UniqueID(unchecked: id) == UniqueID(id))
        #expect(UniqueID(id)?.description == id)
    }

    @Test(
        "invalid ids",
        arguments: [
            "", String(repeating: "x", count: 71), "a b", " ", "tab\there", "del\u{7F}", "nul\u{0}", "line\nbreak",
            "cr\r", "Jörg", "é", "\u{80}", "\u{2028}", String(repeating: "x", count: 69) + "é",
        ]
    )
    func invalid(_ id: String) {
        #expect(!UniqueID.isValid(id.utf8))
        #expect(UniqueID(id) == nil)
        #expect(UniqueID(bytes: Array(id.utf8)) == nil)
    }

    @Test("the byte range ends at 0x21 and 0x7E")
    func byteBoundaries() {
        #expect(UniqueID(bytes: [0x20]) == nil)
        #expect(UniqueID(bytes: [0x21])?.rawValue == "!")
        #expect(UniqueID(bytes: [0x7E])?.rawValue == "~")
        #expect(UniqueID(bytes: [0x7F]) == nil)
        #expect(UniqueID(bytes: [0x41, 0xC3, 0xA9]) == nil, "non-ASCII UTF-8")
        #expect(UniqueID(bytes: [0xFF]) == nil, "not UTF-8 at all")
        #expect(UniqueID(bytes: [UInt8]()) == nil)
    }

    @Test("the length limit is 70 octets")
    func lengthBoundaries() {
        #expect(UniqueID.maximumLength == 70)
        #expect(UniqueID(bytes: [UInt8](repeating: 0x41, count: 70)) != nil)
        #expect(UniqueID(bytes: [UInt8](repeating: 0x41, count: 71)) == nil)
        // 35 two-byte characters are 70 octets, but none of them is ASCII.
        #expect(UniqueID(String(repeating: "é", count: 35)) == nil)
    }

    @Test("literals, equality and order go by the id's bytes")
    func literalsAndOrder() {
        let literal: UniqueID = "u1"
        #expect(literal == UniqueID("u1"))
        #expect(literal != UniqueID("U1"))
        let ids: [UniqueID] = ["b", "a", "B", "~", "!"]
        #expect(ids.sorted().map(\.rawValue) == ["!", "B", "a", "b", "~"])
    }

    @Test("encoded as a plain string; decoding checks the rules")
    func codable() throws {
        let encoded = try JSONEncoder().encode(["u1", "~x"] as [UniqueID])
        #expect(String(decoding: encoded, as: UTF8.self) == #"["u1","~x"]"#)
        #expect(try JSONDecoder().decode([UniqueID].self, from: encoded) == ["u1", "~x"])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([UniqueID].self, from: Data(#"["a b"]"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([UniqueID].self, from: Data(#"[""]"#.utf8))
        }
    }
}
