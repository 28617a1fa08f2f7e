import Testing

@testable import postoffice_bench

@Suite("the expected wire form of a stored message")
struct WireFormTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test(
        "line ends become CRLF, a missing last line end is added",
        arguments: [
            ("a\nb\n", "a\r\nb\r\n"),
            ("a\r\nb\r\n", "a\r\nb\r\n"),
            ("a\nb", "a\r\nb\r\n"),
            ("a\rb\n", "a\rb\r\n"),
            ("", "\r\n"),
            ("\n\n", "\r\n\r\n"),
        ]
    )
    func crlf(stored: String, expected: String) {
        #expect(WireForm.crlf(Self.bytes(stored)) == Self.bytes(expected))
    }

    @Test("lines starting with a dot are stuffed and the body is terminated")
    func stuffing() {
        let message = WireMessage(stored: Self.bytes(".a\nb.\n..c\n.\nend"))
        #expect(message.wire == Self.bytes("..a\r\nb.\r\n...c\r\n..\r\nend\r\n.\r\n"))
        #expect(message.size == ".a\r\nb.\r\n..c\r\n.\r\nend\r\n".utf8.count)
    }

    @Test("unstuffing gives back the CRLF message", arguments: ["x\n", ".\n", "..\n.x\n", "a\nb", "\n"])
    func roundTrip(stored: String) {
        let message = WireMessage(stored: Self.bytes(stored))
        #expect(WireForm.unstuffed(wire: message.wire) == WireForm.crlf(Self.bytes(stored)))
    }

    @Test(
        "a wire body that is not one complete body is refused",
        arguments: ["abc\r\n", "abc\r\n.\r\nmore", ".x\r\n.\r\n", "abc"]
    )
    func incompleteBodies(wire: String) {
        #expect(WireForm.unstuffed(wire: Self.bytes(wire)) == nil)
    }
}
