import Testing

@testable import Mailbox

@Suite("RFC 2045 §6 transfer encodings")
struct TransferEncodingTests {
    @Test(arguments: [
        ("SGVsbG8gd29ybGQ=", "Hello world"),
        ("SGVs\r\nbG8g\r\nd29y bGQ=", "Hello world"),
        ("SGVsbG8gd29ybGQ", "Hello world"),  // no padding
        ("!!SGVs*bG8gd29ybGQ=##", "Hello world"),  // junk ignored (§6.8)
        ("", ""),
    ])
    func base64(encoded: String, decoded: String) {
        #expect(TransferEncoding.decodeBase64(Array(encoded.utf8)) == Array(decoded.utf8))
    }

    @Test(arguments: [
        ("caf=C3=A9", "café"),
        ("caf=c3=a9", "café"),  // lowercase hex, lenient
        ("soft=\r\nbreak", "softbreak"),
        ("soft=\nbreak", "softbreak"),
        ("trailing   \r\nspace", "trailing\r\nspace"),  // rule 3
        ("bad =ZZ stays", "bad =ZZ stays"),
        ("ends with =", "ends with "),
        ("a=3Db", "a=b"),
    ])
    func quotedPrintable(encoded: String, decoded: String) {
        #expect(TransferEncoding.decodeQuotedPrintable(Array(encoded.utf8)[...]) == Array(decoded.utf8))
    }
}

@Suite("Charsets")
struct CharsetTests {
    @Test(arguments: [
        ([0x63, 0x61, 0x66, 0xE9] as [UInt8], "iso-8859-1", "café"),
        ([0xA4] as [UInt8], "ISO-8859-15", "€"),
        ([0xB1, 0xE6] as [UInt8], "iso-8859-2", "ąć"),
        ([0x80, 0x93, 0x94] as [UInt8], "windows-1252", "€“”"),
        ([0xCF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2] as [UInt8], "windows-1251", "Привет"),
        ([0xF0, 0xD2, 0xC9, 0xD7, 0xC5, 0xD4] as [UInt8], "KOI8-R", "Привет"),
        ([0x82, 0xA0] as [UInt8], "Shift_JIS", "あ"),
        ([0xC4, 0xE3, 0xBA, 0xC3] as [UInt8], "gb2312", "你好"),
        ([0x63, 0x61, 0x66, 0xC3, 0xA9] as [UInt8], "utf-8", "café"),
        ([0x63, 0x61, 0x66, 0xE9] as [UInt8], "x-unheard-of", "café"),  // unknown → Latin-1
        ([0x63, 0x61, 0x66, 0xC3, 0xA9] as [UInt8], "us-ascii", "café"),  // mislabelled UTF-8
    ])
    func decodes(bytes: [UInt8], charset: String, expected: String) {
        #expect(CharsetDecoder.decode(bytes, charset: charset) == expected)
    }

    @Test func invalidBytesBecomeReplacementCharacters() {
        #expect(CharsetDecoder.decode([0x61, 0xFF, 0x62], charset: "utf-8") == "a\u{FFFD}b")
        let shiftJIS = CharsetDecoder.decode([0x61, 0x82, 0x62, 0xFF, 0x63], charset: "shift_jis")
        #expect(shiftJIS.hasPrefix("a"))
        #expect(shiftJIS.hasSuffix("c"))
    }

    @Test func labelsCannotInjectIconvOptions() {
        #expect(CharsetDecoder.canonicalLabel("utf-8//IGNORE") == .latin1)
    }
}
