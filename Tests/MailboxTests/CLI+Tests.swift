import Foundation
import Testing

@testable import Mailbox

/// Runs the built `postoffice` binary (found beside the test bundle, or at
/// `$POSTOFFICE_BINARY`) and checks the JSON contract scripts rely on.
@Suite("postoffice mail (CLI)")
struct CLITests {
    static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["POSTOFFICE_BINARY"] { return path }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("postoffice").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/postoffice"
        try #require(FileManager.default.isExecutableFile(atPath: fallback), "build the postoffice product first")
        return fallback
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary())
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self)
        )
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    @Test func listSearchShowJSONContract() throws {
        let (maildir, names) = try OfflineMailboxTests.corpusMaildir()
        let list = try Self.run(["mail", "list", "--maildir", maildir.root, "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        let items = try #require(try Self.json(list.stdout) as? [[String: Any]])
        #expect(items.count == Fixture.corpus().count)
        for item in items {
            for key in ["id", "date", "from", "subject", "size", "attachments"] {
                #expect(item[key] != nil, "missing \(key)")
            }
        }
        let invoice = try #require(items.first { $0["subject"] as? String == "Invoice" })
        #expect(invoice["id"] as? String == OfflineMailboxTests.expectedID(names["attachment-2231"]!))
        #expect(invoice["date"] as? String == "2024-03-05T08:30:00Z")
        #expect(invoice["attachments"] as? [String] == ["Rechnung März.pdf"])
        #expect(invoice["size"] as? Int == Fixture.corpus().first { $0.name == "attachment-2231" }!.bytes.count)
        #expect(invoice["from"] as? String == "Carol <carol@example.net>")

        let search = try Self.run([
            "mail", "search", "--maildir", maildir.root, "--json", "from:carol", "has:attachment", "-pictures",
        ])
        #expect(search.status == 0, "\(search.stderr)")
        let found = try #require(try Self.json(search.stdout) as? [[String: Any]])
        #expect(found.map { $0["subject"] as? String } == ["Invoice"])

        let show = try Self.run(["mail", "show", "--maildir", maildir.root, "--json", invoice["id"] as! String])
        #expect(show.status == 0, "\(show.stderr)")
        let object = try #require(try Self.json(show.stdout) as? [String: Any])
        #expect(object["text"] as? String == "Please find the invoice attached.")
        #expect(object["subject"] as? String == "Invoice")

        let htmlID = OfflineMailboxTests.expectedID(names["html-only"]!)
        let html = try Self.run(["mail", "show", "--maildir", maildir.root, htmlID], environment: ["NO_COLOR": "1"])
        #expect(html.stdout.contains("Read our news <https://example.com/x>."))
        #expect(!html.stdout.contains("\u{1B}["))  // not a terminal: no colour

        let raw = try Self.run(["mail", "show", "--raw", "--maildir", maildir.root, htmlID])
        #expect(Array(raw.stdout.utf8) == Fixture.corpus().first { $0.name == "html-only" }!.bytes)

        let table = try Self.run(["mail", "list", "--maildir", maildir.root, "--limit", "2"])
        #expect(table.stdout.split(separator: "\n").count == 2)
    }

    @Test func unknownIDsFailClearly() throws {
        let (maildir, _) = try OfflineMailboxTests.corpusMaildir()
        for command in [["show"], ["attachments"], ["show", "--json"]] {
            let result = try Self.run(["mail"] + command + ["--maildir", maildir.root, "deadbeef"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("no message with ID 'deadbeef'"))
        }
        let missing = try Self.run(["mail", "list", "--maildir", maildir.root + "/nope"])
        #expect(missing.status != 0)
    }

    @Test func attachmentsSaveExportAndVerify() throws {
        let (maildir, names) = try OfflineMailboxTests.corpusMaildir()
        let output = try TemporaryDirectory()
        let id = OfflineMailboxTests.expectedID(names["attachment-2047"]!)
        let saved = try Self.run(["mail", "attachments", "--maildir", maildir.root, id, "--save", output.path + "/a"])
        #expect(saved.status == 0, "\(saved.stderr)")
        #expect(saved.stdout == "\(output.path)/a/föto.png\n\(output.path)/a/_.._etc_passwd\n")

        let export = try Self.run([
            "mail", "export", "--maildir", maildir.root, "--mbox", output.path + "/x.mbox", "subject:invoice",
        ])
        #expect(export.status == 0, "\(export.stderr)")
        let reread = try Self.run(["mail", "list", "--json", "--mbox", output.path + "/x.mbox"])
        #expect((try Self.json(reread.stdout) as? [[String: Any]])?.map { $0["subject"] as? String } == ["Invoice"])

        // A header line without a colon: readable, with a defect (a warning).
        try maildir.deliver(Array("Subject: odd\r\nno colon here\r\n\r\nbody\r\n".utf8))
        var verify = try Self.run(["mail", "verify", "--maildir", maildir.root])
        #expect(verify.status != 0)  // the headerless message
        // Without -v, the summary still says what the findings are, by kind.
        #expect(
            verify.stdout.split(separator: "\n").last
                == "checked \(names.count + 1) messages: 1 failed (1 unparseable), 1 warning (1 defects); -v lists them"
        )
        #expect(!verify.stdout.contains("warn "))
        let verbose = try Self.run(["mail", "verify", "-v", "--maildir", maildir.root])
        #expect(verbose.stdout.contains("defects (header line without a colon"))
        try FileManager.default.removeItem(atPath: maildir.path(names["missing-headers"]!))
        verify = try Self.run(["mail", "verify", "--maildir", maildir.root, "--update-manifest"])
        #expect(verify.status == 0, "\(verify.stdout)")
        let victim = maildir.path(names["plain"]!)
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: victim))
        verify = try Self.run(["mail", "verify", "--maildir", maildir.root])
        #expect(verify.status != 0)
        #expect(verify.stdout.contains("digest mismatch"))
        #expect(verify.stdout.contains(OfflineMailboxTests.expectedID(names["plain"]!)))

        let reindex = try Self.run(["mail", "reindex", "--maildir", maildir.root])
        #expect(reindex.status == 0)
        #expect(reindex.stdout.hasPrefix("indexed \(names.count) messages"))
    }

    @Test func defaultStoreIsUnderXDGDataHome() throws {
        let home = try TemporaryDirectory()
        let store = home.path + "/postoffice/mail"
        for sub in ["cur", "new", "tmp"] {
            try FileManager.default.createDirectory(atPath: store + "/" + sub, withIntermediateDirectories: true)
        }
        try Data(Fixture.plain(subject: "Default store", body: "x")).write(
            to: URL(fileURLWithPath: store + "/new/1.a.b")
        )
        let result = try Self.run(["mail", "list", "--json"], environment: ["XDG_DATA_HOME": home.path])
        #expect((try Self.json(result.stdout) as? [[String: Any]])?.first?["subject"] as? String == "Default store")
    }
}
