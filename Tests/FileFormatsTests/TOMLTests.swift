import FileFormats
import Testing

@Suite("TOML reader")
struct TOMLTests {
    @Test("tables, arrays of tables, every value type")
    func document() throws {
        let doc = try TOML.parse(
            """
            # PostOffice
            title = "post \\"office\\"" # trailing comment
            [server]
            listen = ["127.0.0.1:110",
                      "[::1]:110", ]   # multi-line array
            auth_failure_delay = 2.5
            idle_timeout = 1_200
            allow_cleartext_auth = false
            maildir = '/var/mail/%u/Maildir'
            site.name = "x"

            [[account]]
            name = "work"
            port = 995
            [[account]]
            name = "home"
            tls = { mode = "starttls", insecure = true }
            """
        )
        #expect(doc["title"] == .string("post \"office\""))
        guard case .table(let server) = doc["server"] else { Issue.record("no [server]"); return }
        #expect(server["listen"] == .array([.string("127.0.0.1:110"), .string("[::1]:110")]))
        #expect(server["auth_failure_delay"] == .float(2.5))
        #expect(server["idle_timeout"] == .integer(1200))
        #expect(server["allow_cleartext_auth"] == .boolean(false))
        #expect(server["maildir"] == .string("/var/mail/%u/Maildir"))
        guard case .table(let site) = server["site"] else { Issue.record("no dotted table"); return }
        #expect(site["name"] == .string("x"))
        guard case .array(let accounts) = doc["account"], accounts.count == 2,
            case .table(let first) = accounts[0], case .table(let second) = accounts[1]
        else { Issue.record("no [[account]] array"); return }
        #expect(first["name"] == .string("work"))
        #expect(first["port"] == .integer(995))
        guard case .table(let tls) = second["tls"] else { Issue.record("no inline table"); return }
        #expect(tls["mode"] == .string("starttls"))
        #expect(tls["insecure"] == .boolean(true))
    }

    @Test(
        "bad documents name the line",
        arguments: [
            ("a = 1\na = 2", 2, "set twice"),
            ("[s]\n[s]", 2, "defined twice"),
            ("a = bare", 1, "need quotes"),
            ("a = \"open", 1, "unterminated"),
            ("a = 1 b = 2", 1, "unexpected"),
            ("\n\n[x", 3, "']'"),
            ("a = [1, 2", 1, "expected"),
            ("a = 1\n[a]", 2, "already a value"),
            ("a = \"\\q\"", 1, "invalid escape"),
        ]
    )
    func errors(text: String, line: Int, fragment: String) {
        #expect {
            _ = try TOML.parse(text)
        } throws: { error in
            guard let error = error as? TOMLError else { return false }
            return error.line == line && error.message.contains(fragment)
        }
    }
}
