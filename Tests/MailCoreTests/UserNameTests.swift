import MailCore
import Testing

@Suite("User names")
struct UserNameTests {
    @Test(
        "valid names",
        arguments: [
            "tim", "tim@example.com", "Jörg", "a.b", "a-b_c+d", ".hidden", "x.", String(repeating: "a", count: 255),
            String(repeating: "é", count: 127),
        ]
    )
    func valid(_ name: String) {
        #expect(UserName.isValid(name))
        #expect(UserName(name)?.value == name)
    }

    @Test(
        "invalid names",
        arguments: [
            "", ".", "..", "../x", "x/..", "a/b", "/etc", "a..b", "a\\b", "a b", "nul\u{0}byte", "tab\tname",
            "line\nbreak", "colon:name", "del\u{7F}", "c1\u{85}", "ls\u{2028}", "ps\u{2029}",
            String(repeating: "y", count: 256), String(repeating: "é", count: 128),
        ]
    )
    func invalid(_ name: String) {
        #expect(!UserName.isValid(name))
        #expect(UserName(name) == nil)
    }
}
