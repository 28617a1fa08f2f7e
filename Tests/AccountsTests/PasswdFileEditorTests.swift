import Foundation
import Testing

@testable import Accounts

@Suite("PasswdFileEditor")
struct PasswdFileEditorTests {
    private func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    private func inode(_ path: String) throws -> UInt64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.systemFileNumber] as? UInt64)
    }

    @Test("add creates a 0600 file whose accounts log in")
    func addToNewFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("passwd")
        let editor = PasswdFileEditor(path: path)
        try editor.add(user: "tim", password: "tanstaaf")
        try editor.add(user: "sam", password: "pencil", scheme: .scramSHA256)
        #expect(try mode(path) == 0o600)
        #expect(try editor.list() == ["tim", "sam"])
        let text = try directory.read("passwd")
        #expect(text.hasPrefix("tim:{CRYPT}$y$"))
        #expect(text.hasSuffix("\n"))
        #expect(!text.contains("tanstaaf"))
        let accounts = PasswdFileAccounts(path: path)
        #expect(await accounts.verifyPassword(user: "tim", password: bytes("tanstaaf")) == .success(user: "tim"))
        #expect(await accounts.scramCredentials(user: "sam") != nil)
    }

    @Test("changes keep every other line, comment and field byte for byte")
    func preservation() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let original = """
            # accounts — managed by hand too

            ann:{PLAIN}old:1000:1000:Ann Example:/home/ann:/bin/false:userdb_quota_rule=*:storage=1G
            bob:{SHA512-CRYPT}$6$x$y\r
            \tcarol:{PLAIN}c
            # trailing comment
            dave:{PLAIN}d
            """
        try directory.write("passwd", original)
        let editor = PasswdFileEditor(path: directory.file("passwd"))

        try editor.setPassword(user: "ann", password: "new", scheme: .plain)
        var expected = original.replacingOccurrences(of: "ann:{PLAIN}old:", with: "ann:{PLAIN}new:") + "\n"
        #expect(try directory.read("passwd") == expected)

        try editor.setPassword(user: "bob", password: "b2", scheme: .plain)
        expected = expected.replacingOccurrences(of: "bob:{SHA512-CRYPT}$6$x$y\r\n", with: "bob:{PLAIN}b2\r\n")
        #expect(try directory.read("passwd") == expected)

        try editor.remove(user: "dave")
        expected = expected.replacingOccurrences(of: "dave:{PLAIN}d\n", with: "")
        #expect(try directory.read("passwd") == expected)

        try editor.add(user: "erin", password: "e", scheme: .plain)
        expected += "erin:{PLAIN}e\n"
        #expect(try directory.read("passwd") == expected)
        // "\tcarol" is not a valid user name, so it is no account, but its line stays.
        #expect(try editor.list() == ["ann", "bob", "erin"])
    }

    @Test("a file without a final newline gets one before an added line")
    func noFinalNewline() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("passwd", "ann:{PLAIN}a")
        try PasswdFileEditor(path: directory.file("passwd")).add(user: "bob", password: "b", scheme: .plain)
        #expect(try directory.read("passwd") == "ann:{PLAIN}a\nbob:{PLAIN}b\n")
    }

    @Test("errors: duplicate, missing user, bad names, bad passwords")
    func errors() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("passwd", "ann:{PLAIN}a\n")
        let editor = PasswdFileEditor(path: directory.file("passwd"))
        let code = { (error: PasswdFileEditorError) in error.code }
        #expect(throws: PasswdFileEditorError(code: .userExists, message: "")) {
            try editor.add(user: "ann", password: "x")
        }
        #expect(throws: PasswdFileEditorError(code: .noSuchUser, message: "")) {
            try editor.setPassword(user: "bob", password: "x")
        }
        #expect(throws: PasswdFileEditorError(code: .noSuchUser, message: "")) { try editor.remove(user: "bob") }
        for name in ["../x", "a/b", "nul\u{0}", "", "a:b"] {
            #expect(throws: PasswdFileEditorError(code: .invalidUserName, message: "")) {
                try editor.add(user: name, password: "x")
            }
        }
        let error = try #require(throws: PasswdFileEditorError.self) {
            try editor.add(user: "carol", password: "a:b", scheme: .plain)
        }
        #expect(code(error) == .invalidPassword)
        #expect(!error.message.contains("a:b"))
        // Nothing above changed the file.
        #expect(try directory.read("passwd") == "ann:{PLAIN}a\n")
    }

    @Test("a missing file lists no users and cannot lose one")
    func missingFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let editor = PasswdFileEditor(path: directory.file("passwd"))
        #expect(try editor.list() == [])
        #expect(throws: PasswdFileEditorError(code: .noSuchUser, message: "")) { try editor.remove(user: "x") }
    }

    @Test("writes replace the file by rename, keep its mode and leave no temporary files")
    func atomicity() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("passwd")
        try directory.write("passwd", "ann:{PLAIN}a\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        let before = try inode(path)
        // A reader that opened the old file keeps reading the old contents.
        let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? reader.close() }

        try PasswdFileEditor(path: path).add(user: "bob", password: "b", scheme: .plain)

        #expect(try inode(path) != before)
        #expect(try mode(path) == 0o640)
        #expect(String(decoding: reader.readDataToEndOfFile(), as: UTF8.self) == "ann:{PLAIN}a\n")
        #expect(try directory.entries() == ["passwd", "passwd.lock"])
    }

    @Test("removing a duplicated user removes all its lines")
    func duplicates() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("passwd", "ann:{PLAIN}a\nbob:{PLAIN}b\nann:{PLAIN}c\n")
        let editor = PasswdFileEditor(path: directory.file("passwd"))
        #expect(try editor.list() == ["ann", "bob"])
        try editor.remove(user: "ann")
        #expect(try directory.read("passwd") == "bob:{PLAIN}b\n")
    }
}
