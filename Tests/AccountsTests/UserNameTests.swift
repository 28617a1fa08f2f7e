import Testing

@testable import Accounts

@Suite("User names")
struct UserNameTests {
    @Test(
        "valid names",
        arguments: ["tim", "tim@example.com", "Jörg", "a.b", "a-b_c+d", "x" + String(repeating: "y", count: 254)]
    )
    func valid(_ name: String) {
        #expect(UserName.isValid(name))
        #expect(PasswdFileAccounts.isValidUserName(name))
    }

    @Test(
        "invalid names",
        arguments: [
            "", ".", "..", "../x", "x/..", "a/b", "/etc", "a..b", "nul\u{0}byte", "tab\tname", "line\nbreak",
            "colon:name", "del\u{7F}", "c1\u{85}", String(repeating: "y", count: 256),
            String(repeating: "é", count: 128),
        ]
    )
    func invalid(_ name: String) {
        #expect(!UserName.isValid(name))
        #expect(!PasswdFileAccounts.isValidUserName(name))
    }
}
