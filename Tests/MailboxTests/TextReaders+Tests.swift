import Testing

@testable import Mailbox

@Suite("Dates, addresses, HTML")
struct TextReaderTests {
    @Test(arguments: [
        ("Fri, 21 Nov 1997 09:55:06 -0600", 880_127_706 as Int64),  // RFC 5322 appendix A.1.1
        ("Tue, 1 Jul 2003 10:52:37 +0200", 1_057_049_557),  // A.1.2
        ("21 Nov 97 09:55:06 GMT", 880_106_106),  // A.6.2, obsolete year and zone
        (
            "Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n               -0330 (Newfoundland Time)",
            -27_723_480
        ),  // A.5
        ("Mon Mar  4 10:00:00 2024", 1_709_546_400),  // asctime
        ("4 Mar 2024 10:00 EST", 1_709_564_400),
    ])
    func dates(text: String, expected: Int64) {
        #expect(MessageDate.parse(text) == expected)
    }

    @Test(arguments: ["", "garbage", "32 Foo 2024", "Mon, 4 Mar"])
    func unreadableDates(text: String) {
        #expect(MessageDate.parse(text) == nil)
    }

    @Test func addressLists() {
        let parsed = Address.parseList(
            Array(
                "\"Doe, John\" <john@example.com>, =?UTF-8?Q?Ren=C3=A9e?= <renee@example.fr>, plain@example.org (Plain Name), Group: a@x.org, b@x.org;"
                    .utf8
            )
        )
        #expect(
            parsed == [
                Address(name: "Doe, John", address: "john@example.com"),
                Address(name: "Renée", address: "renee@example.fr"),
                Address(name: "Plain Name", address: "plain@example.org"),
                Address(name: "", address: "a@x.org"),
                Address(name: "", address: "b@x.org"),
            ]
        )
        // An encoded comma does not split the mailbox.
        #expect(Address.parseList(Array("=?UTF-8?Q?Doe=2C_Jane?= <jane@example.com>".utf8)).count == 1)
    }

    @Test(arguments: [
        ("<p>One</p><p>Two<br>Three</p>", "One\n\nTwo\nThree"),
        ("<ul><li>a</li><li>b</li></ul>", "- a\n- b"),
        ("x &lt;y&gt; &#233; &#x1F600; &unknown; & z", "x <y> é 😀 &unknown; & z"),
        ("<script>alert(1)</script><style>p{}</style>visible", "visible"),
        ("<a href=\"https://e.com/\">https://e.com/</a>", "https://e.com/"),
        ("<a href='https://e.com/a'>link</a>", "link <https://e.com/a>"),
        ("<pre>  keep\n  spaces</pre>", "keep\n  spaces"),
        ("a <!-- hidden --> b", "a b"),
        ("unterminated <b tag", "unterminated"),
        ("1 < 2", "1 < 2"),
    ])
    func html(source: String, expected: String) {
        #expect(HTMLText.render(source) == expected)
    }
}

@Suite("Attachment names")
struct AttachmentNameTests {
    @Test(arguments: [
        ("../../etc/passwd", "_.._etc_passwd"),
        ("/etc/shadow", "_etc_shadow"),
        ("..", "attachment"),
        (".", "attachment"),
        ("", "attachment"),
        ("   ", "attachment"),
        ("a\u{0}b.txt", "ab.txt"),
        ("..\\..\\windows\\system.ini", "_.._windows_system.ini"),
        (".hidden", "hidden"),
        ("-rf", "rf"),
        ("evil\u{202E}fdp.exe", "evilfdp.exe"),
        ("normal name.pdf", "normal name.pdf"),
        ("Rechnung März.pdf", "Rechnung März.pdf"),
    ])
    func sanitised(name: String, expected: String) {
        #expect(AttachmentNames.safeFileName(name) == expected)
    }

    @Test func longNamesKeepTheirExtension() {
        let name = AttachmentNames.safeFileName(String(repeating: "é", count: 300) + ".pdf")
        #expect(name.utf8.count <= AttachmentNames.maximumLength)
        #expect(name.hasSuffix(".pdf"))
    }

    @Test func numbering() {
        #expect(AttachmentNames.numbered("report.pdf", 1) == "report (1).pdf")
        #expect(AttachmentNames.numbered("README", 2) == "README (2)")
    }
}
