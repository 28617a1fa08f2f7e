import Testing

@testable import Mailbox

@Suite("RFC 2047 encoded words")
struct EncodedWordTests {
    /// RFC 2047 §8: the examples of how whitespace between encoded words is displayed.
    @Test(arguments: [
        ("(=?ISO-8859-1?Q?a?=)", "(a)"),
        ("(=?ISO-8859-1?Q?a?= b)", "(a b)"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"),
        ("(=?ISO-8859-1?Q?a_b?=)", "(a b)"),
        ("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"),
    ])
    func rfc2047Section8(raw: String, expected: String) {
        #expect(EncodedWordDecoder.decode(Array(raw.utf8)) == expected)
    }

    @Test(arguments: [
        // RFC 2047 §8 header examples.
        ("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>", "Keith Moore <moore@cs.utk.edu>"),
        ("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>", "Keld Jørn Simonsen <keld@dkuug.dk>"),
        ("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>", "André Pirard <PIRARD@vm1.ulg.ac.be>"),
        (
            "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?= =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
            "If you can read this you understand the example."
        ),
        // B encoding, UTF-8.
        ("=?UTF-8?B?w6lsw6h2ZQ==?=", "élève"),
        // A UTF-8 character split across two adjacent words of one charset.
        ("=?UTF-8?B?w6k=?= =?UTF-8?B?bA==?=", "él"),
        ("=?utf-8?q?=C3?= =?utf-8?q?=A9t=C3=A9?=", "été"),
        // RFC 2231 §5: language suffix on the charset.
        ("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"),
        // Lowercase encoding letter and hex digits.
        ("=?iso-8859-1?q?caf=e9?=", "café"),
        // Missing base64 padding.
        ("=?UTF-8?B?w6lsw6h2ZQ?=", "élève"),
        // Text before and after.
        ("Re: =?UTF-8?Q?caf=C3=A9?= tonight", "Re: café tonight"),
    ])
    func decodesWords(raw: String, expected: String) {
        #expect(EncodedWordDecoder.decode(Array(raw.utf8)) == expected)
    }

    @Test(arguments: [
        "=?UTF-8?X?abc?=",
        "=?utf-8?q?unterminated",
        "=??q?abc?=",
        "plain text = not ? encoded",
        "=?utf-8?q?with space?=",
    ])
    func leavesMalformedWordsAlone(raw: String) {
        #expect(EncodedWordDecoder.decode(Array(raw.utf8)) == raw)
    }

    @Test func unknownCharsetFallsBackToLatin1() {
        #expect(EncodedWordDecoder.decode(Array("=?x-no-such-charset?Q?caf=E9?=".utf8)) == "café")
    }

    @Test func rawEightBitTextIsUTF8OrWindows1252() {
        #expect(EncodedWordDecoder.decode(Array("Grüße".utf8)) == "Grüße")
        #expect(EncodedWordDecoder.decode([0x47, 0x72, 0xFC, 0xDF, 0x65, 0x20, 0x80]) == "Grüße €")
    }
}
