import Testing

@testable import MailStore

@Suite("Maildir path templates and user names")
struct MaildirPathTemplateTests {
    @Test(
        "expands variables",
        arguments: [
            ("/var/mail/%u/Maildir", "alice", "/var/mail/alice/Maildir"),
            ("/var/mail/%u/Maildir", "bob@example.org", "/var/mail/bob@example.org/Maildir"),
            ("/srv/%d/%n", "bob@example.org", "/srv/example.org/bob"),
            ("/srv/%n", "alice", "/srv/alice"),
            ("/srv/%n", "a@b@c", "/srv/a@b"),
            ("data/100%%/%u", "carol", "data/100%/carol"),
            ("/fixed/Maildir", "anyone", "/fixed/Maildir"),
        ]
    )
    func expands(_ template: String, _ user: String, _ expected: String) throws {
        #expect(try MaildirPathTemplate(template).path(for: user) == expected)
    }

    @Test(
        "rejects user names unfit for a path",
        arguments: [
            "", ".", "..", "a/b", "../etc", "a..b", "x\u{0}y", "line\nbreak", "tab\t", "del\u{7F}",
            String(repeating: "u", count: 256),
        ]
    )
    func rejectsUsers(_ user: String) throws {
        let template = try MaildirPathTemplate("/var/mail/%u/Maildir")
        #expect(throws: MailStoreError.noSuchUser(user)) { try template.path(for: user) }
    }

    @Test("rejects empty parts the template uses", arguments: ["alice", "@example.org", "alice@", "alice@."])
    func rejectsParts(_ user: String) throws {
        let template = try MaildirPathTemplate("/srv/%d/%n")
        #expect(throws: MailStoreError.noSuchUser(user)) { try template.path(for: user) }
    }

    @Test("rejects malformed templates", arguments: ["", "/var/%x/mail", "/var/mail/%", "/a\u{0}b/%u"])
    func rejectsTemplates(_ template: String) {
        #expect(throws: MaildirPathTemplate.InvalidTemplate.self) { try MaildirPathTemplate(template) }
    }

    @Test("the store reports invalid users before touching the disk")
    func storeRejects() async throws {
        let store = try MaildirStore(template: "/nonexistent-root-for-test/%u")
        await #expect(throws: MailStoreError.noSuchUser("../x")) { _ = try await store.openMaildrop(user: "../x") }
        await #expect(throws: MailStoreError.noSuchUser("a/b")) {
            _ = try await store.deliver(user: "a/b", message: [])
        }
    }
}
