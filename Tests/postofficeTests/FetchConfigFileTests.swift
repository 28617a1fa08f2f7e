import FileFormats
import Foundation
import Testing

@testable import postoffice

@Suite("fetch.toml edits by account add and remove")
struct FetchConfigFileTests {
    let file = FetchConfigFile(path: "/nonexistent/fetch.toml")

    static func entry(_ name: String, password: FetchAccountSettings.PasswordSource = .file("/p/pw")) -> AccountEntry {
        AccountEntry(
            name: name,
            host: "pop.example.org",
            port: 995,
            tls: .implicit,
            user: "al \"the\" user",
            password: password,
            retention: .keepDays(14),
            caFile: nil,
            fingerprint: "SHA256:" + Array(repeating: "AB", count: 32).joined(separator: ":"),
            target: nil,
            foundBy: "found\nby a test"
        )
    }

    @Test func anEntryReadsBackAsTheSameAccount() throws {
        let text = try file.adding(Self.entry("work", password: .command("pass show 'mail\\work'")), to: nil)
        #expect(text.hasPrefix("# Accounts for `postoffice fetch`."))
        #expect(text.contains("# found by a test\n[[account]]\n"), "a newline in the comment would break the file")
        let account = try #require(try FetchFileSettings(text: text, path: file.path).accounts.first)
        #expect(account.name == "work")
        #expect(account.user == "al \"the\" user")
        #expect(account.password == .command("pass show 'mail\\work'"))
        #expect(account.retention == .keepDays(14))
        #expect(account.trust == .fingerprint([UInt8](repeating: 0xAB, count: 32)))
        #expect(account.host == "pop.example.org" && account.port == 995 && account.tls == .implicit)
    }

    @Test func addingKeepsWhatAPersonWrote() throws {
        let original = """
            # my accounts
            [fetch]
            interval = "10m"   # slower

            [[account]]
            name = "home"
            host = "mail.example.net"
            user = "me"
            password_env = "HOME_PW"
            """
        let text = try file.adding(Self.entry("work"), to: original)
        #expect(text.hasPrefix(original + "\n\n# found by a test\n[[account]]\n"))
        let settings = try FetchFileSettings(text: text, path: file.path)
        #expect(settings.accounts.map(\.name) == ["home", "work"])
        #expect(settings.interval == 600)
    }

    @Test func removingTakesOutOnlyThatTable() throws {
        let original = """
            [fetch]
            interval = "10m"

            [[account]]
            name = "home"
            host = "mail.example.net"
            user = "me"
            password_env = "HOME_PW"

            [[account]]
            name = "work"
            host = "pop.example.org"
            user = "al"
            password_file = "/p/pw"

            [[account]]   # unnamed: fetch calls it account3
            host = "pop.example.com"
            user = "x"
            password_env = "X"
            """
        let withoutWork = try file.removing(account: "work", from: original)
        // The unnamed table keeps the name fetch gave it (its state is keyed by it).
        #expect(try FetchFileSettings(text: withoutWork, path: file.path).accounts.map(\.name) == ["home", "account3"])
        #expect(withoutWork.contains("[[account]]   # unnamed: fetch calls it account3\nname = \"account3\"\n"))
        #expect(withoutWork.contains("interval = \"10m\""))
        #expect(!withoutWork.contains("\n\n\n"))
        let withoutUnnamed = try file.removing(account: "account3", from: original)
        #expect(try FetchFileSettings(text: withoutUnnamed, path: file.path).accounts.map(\.name) == ["home", "work"])
        #expect(throws: ConfigError.self) { try file.removing(account: "nosuch", from: original) }
    }

    @Test func aDuplicateNameIsRefusedWhenReadBack() throws {
        let once = try file.adding(Self.entry("work"), to: nil)
        #expect(throws: ConfigError.self) { try file.adding(Self.entry("work"), to: once) }
    }

    @Test(
        "TOML strings",
        arguments: ["plain", "quote \" and back\\slash", "tab\tnewline\nreturn\r", "bell\u{7}del\u{7F}", "ünïcödé 📬"]
    )
    func tomlStringsRoundTrip(_ value: String) throws {
        let table = try TOML.parse("key = \(tomlQuoted(value))\n")
        #expect(table["key"] == .string(value))
    }

    @Test(
        "shell words",
        arguments: [("alice@example.org", "alice@example.org"), ("a b", "'a b'"), ("it's", "'it'\\''s'"), ("", "''")]
    )
    func shellWords(_ word: String, _ quoted: String) {
        #expect(shellQuoted(word) == quoted)
    }
}

@Suite("fetch defaults")
struct FetchDefaultsTests {
    @Test(
        arguments: [
            ("alice@example.org", "alice@example.org"), ("a/b", "a%2Fb"), ("50%", "50%25"), (".hidden", "%2Ehidden"),
            ("..", "%2E."), ("new\nline", "new%0Aline"), ("", "%00"),
        ]
    )
    func fileNameComponents(_ name: String, _ component: String) {
        #expect(XDG.fileNameComponent(name) == component)
    }

    @Test func stateIsKeyedByUserHostAndPort() {
        let path = XDG.defaultState(user: "al/ice", host: "POP.Example.org", port: 995)
        #expect(path == XDG.stateHome + "/postoffice/al%2Fice@pop.example.org:995.state")
    }

    @Test func mailGoesWhereMailReads() {
        #expect(FetchCommand.defaultTarget == .maildir(MailStoreOptions.defaultMaildir()))
        #expect(MailStoreOptions.defaultMaildir() == XDG.dataHome + "/postoffice/mail")
    }
}
