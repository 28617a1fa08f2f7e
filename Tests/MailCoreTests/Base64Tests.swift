import MailCore
import Testing

@Suite("Base64: one strict codec for SASL, SCRAM and password schemes")
struct Base64Tests {
    @Test(
        "RFC 4648 §10 vectors",
        arguments: [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ]
    )
    func vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.encodeBytes(Array(plain.utf8)) == Array(encoded.utf8))
        #expect(Base64.decode(encoded) == Array(plain.utf8))
        #expect(Base64.decode(bytes: encoded.utf8) == Array(plain.utf8))
    }

    @Test("round trip over every length up to 70 and all byte values")
    func roundTrip() {
        for length in 0..<70 {
            let input = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(input)) == input)
        }
        let all = Array(UInt8(0)...UInt8(255))
        #expect(Base64.decode(Base64.encode(all)) == all)
    }

    @Test(
        "malformed or non-canonical base64 is refused",
        arguments: [
            "a", "Zg=", "Z===", "=Zg=", "Zg==Zg==", "Zm9v!", "Zm 9", "Zg=a", "Zm9\u{0}", "ab=c", "abc*", "ab===",
            "AB==", "====", "Zm9v\r\n",
        ]
    )
    func malformed(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
