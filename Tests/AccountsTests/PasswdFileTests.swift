import Testing

@testable import Accounts

@Suite("passwd-file parsing")
struct PasswdFileTests {
    @Test("Dovecot's format: comments, blank lines, optional fields, extra fields, CRLF")
    func parse() throws {
        let text = """
            # accounts
            tim:{PLAIN}tanstaaf

              # indented comment
            ann:{SHA512-CRYPT}$6$x$y:1000:1000::/home/ann::userdb_quota_rule=*:storage=1G\r
            bob:$y$j9T$abc
            carol:{PLAIN}secret:::Carol:/home/carol:/bin/sh:nopassword
            """
        let file = PasswdFile(parsing: text)
        #expect(file.problems.isEmpty)
        #expect(Set(file.entries.keys) == ["tim", "ann", "bob", "carol"])
        let ann = try #require(file.entries["ann"])
        #expect(ann.lineNumber == 5)
        #expect(ann.password.scheme == .sha512Crypt)
        #expect(ann.otherFields == ["1000", "1000", "", "/home/ann", "", "userdb_quota_rule=*", "storage=1G"])
        #expect(file.entries["bob"]?.password.scheme == .crypt)
        #expect(file.entries["carol"]?.otherFields.last == "nopassword")
    }

    @Test("bad lines are reported with their number and never the hash")
    func problems() {
        let text = """
            good:{PLAIN}a
            ../evil:{PLAIN}topsecret1
            nopassword
            good:{PLAIN}topsecret2
            odd:{WHIRLPOOL}topsecret3
            :{PLAIN}topsecret4
            """
        let file = PasswdFile(parsing: text)
        #expect(file.problems.map(\.lineNumber) == [2, 3, 4, 5, 6])
        for problem in file.problems {
            #expect(!problem.description.contains("topsecret"))
        }
        #expect(file.problems[2].reason.contains("duplicate user good"))
        #expect(file.problems[3].reason.contains("WHIRLPOOL"))
        // The first of the duplicates counts; the unknown scheme's account exists but cannot log in.
        #expect(file.entries["good"]?.password.plaintext == Array("a".utf8))
        #expect(file.entries["odd"] != nil)
        #expect(file.entries.count == 2)
    }

    @Test("empty file")
    func empty() {
        let file = PasswdFile(parsing: "")
        #expect(file.entries.isEmpty)
        #expect(file.problems.isEmpty)
    }
}
