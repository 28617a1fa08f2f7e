import Crypto
import Foundation
import SystemPackage
import Testing

@testable import Mailbox

/// Runs python3 with a script and arguments; returns standard output.
func runPython(_ script: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return String(decoding: data, as: UTF8.self)
}

@Suite("Export (mboxrd) and verify")
struct ExportVerifyTests {
    @Test func exportReadsBackWithPythonMailbox() throws {
        let (maildir, _) = try OfflineMailboxTests.corpusMaildir()
        try maildir.deliver(
            Fixture.plain(
                subject: "Quoting",
                date: "Mon, 11 Mar 2024 10:00:00 +0000",
                body: "From the start\r\n>From once\r\n>>From twice\r\nFrom\r\n"
            )
        )
        let mailbox = try OfflineMailbox(store: .maildir(maildir.root))
        let output = try TemporaryDirectory()
        let path = output.path + "/backup.mbox"
        let count = try mailbox.exportMbox(query: nil, to: path, mode: .create)
        #expect(count == Fixture.corpus().count + 1)
        let script = """
            import mailbox, sys, json
            box = mailbox.mbox(sys.argv[1], create=False)
            out = []
            for m in box:
                body = m.get_payload(decode=False) if not m.is_multipart() else ''
                out.append({'subject': str(m['subject'] or ''), 'from_line': m.get_from(), 'body': body})
            print(json.dumps(out))
            """
        let messages =
            try JSONSerialization.jsonObject(with: Data(try runPython(script, [path]).utf8)) as? [[String: String]]
        let parsed = try #require(messages)
        #expect(parsed.count == count)
        let quoting = try #require(parsed.first { $0["subject"] == "Quoting" })
        // mboxrd: each From line gained one '>' (Python's reader does not unquote).
        #expect(quoting["body"] == ">From the start\r\n>>From once\r\n>>>From twice\r\nFrom\r\n")
        #expect(quoting["from_line"]?.hasPrefix("alice@example.com ") == true)
        // Oldest first.
        #expect(parsed.first?["subject"] == "Lunch on Friday")

        // Our own reader undoes the quoting: the export is a faithful backup.
        let reread = try OfflineMailbox(store: .mbox(path))
        for summary in try mailbox.list() {
            let copy = try #require(
                try reread.list().first { $0.subject == summary.subject && $0.date == summary.date }
            )
            var original = try mailbox.rawMessage(summary)
            if original.last != 0x0A { original.append(0x0A) }
            #expect(try reread.rawMessage(copy) == original)
        }
        // The file is not overwritten by accident.
        #expect(throws: MailboxError.outputExists(path)) { try mailbox.exportMbox(query: nil, to: path, mode: .create) }
        #expect(try mailbox.exportMbox(query: SearchQuery(parsing: "has:attachment"), to: path, mode: .overwrite) == 2)
    }

    @Test func verifyDetectsTamperingAndMissingMessages() throws {
        let (maildir, names) = try OfflineMailboxTests.corpusMaildir()
        for (_, relative) in names {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: maildir.path(relative)))
            try recordInManifest(maildir: maildir.root, fileName: relative, sha256: Array(SHA256.hash(data: bytes)))
        }
        let mailbox = try OfflineMailbox(store: .maildir(maildir.root))
        var report = try mailbox.verify(updateManifest: false)
        #expect(report.checked == names.count)
        // The headerless message is the one structural failure.
        #expect(report.failures.map(\.kind) == [.unparseable])
        try FileManager.default.removeItem(atPath: maildir.path(names["missing-headers"]!))

        // Flip one bit in one message; remove another.
        let victim = maildir.path(names["plain"]!)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        bytes[bytes.count - 3] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: victim))
        try FileManager.default.removeItem(atPath: maildir.path(names["html-only"]!))
        // A message another program delivers is recorded the first time the index sees it.
        try maildir.deliver(Fixture.plain(subject: "Unrecorded", body: "x"))
        report = try mailbox.verify(updateManifest: false)
        #expect(!report.isSuccess)
        let mismatch = try #require(report.failures.first { $0.kind == .digestMismatch })
        #expect(mismatch.id == OfflineMailboxTests.expectedID(names["plain"]!))
        #expect(report.failures.filter { $0.kind == .missing }.count == 2)
        #expect(!report.findings.contains { $0.kind == .notInManifest })
        #expect(report.countsByKind.map(\.kind) == [.digestMismatch, .missing])

        // --update-manifest forgets removed messages, never a mismatch.
        report = try mailbox.verify(updateManifest: true)
        #expect(report.manifestChanges == 2)
        report = try mailbox.verify(updateManifest: false)
        #expect(report.failures.map(\.kind) == [.digestMismatch])
        #expect(!report.findings.contains { $0.kind == .notInManifest })
    }

    /// `verify` used to protect only what fetch stored (or `--update-manifest` recorded): a
    /// Maildir filled by mpop or fetchmail had no digests, so bit rot went unnoticed.
    @Test func aMaildirFilledByAnotherProgramIsProtectedFromFirstSight() throws {
        let (maildir, names) = try OfflineMailboxTests.corpusMaildir()
        let manifestPath = maildir.root + "/" + Manifest.fileName
        #expect(!FileManager.default.fileExists(atPath: manifestPath))
        let listing = try OfflineMailbox(store: .maildir(maildir.root)).synchronize()
        #expect(listing.digestsRecorded == names.count)
        let manifest = try Manifest.read(FilePath(manifestPath))
        #expect(manifest.count == names.count)
        for (_, relative) in names {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: maildir.path(relative)))
            #expect(manifest[MaildirFolder.uniqueName(relative)] == Bytes.hex(SHA256.hash(data: bytes)))
        }
        // A reader marks one seen (renamed into cur/ with flags): still the same message.
        let seen = names["plain"]!
        let name = String(seen.split(separator: "/").last!)
        try FileManager.default.moveItem(atPath: maildir.path(seen), toPath: maildir.root + "/cur/" + name + ":2,S")
        // Bit rot in another message, size unchanged.
        let victim = maildir.path(names["html-only"]!)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        bytes[bytes.count / 2] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: victim))

        let report = try OfflineMailbox(store: .maildir(maildir.root)).verify(updateManifest: false)
        #expect(
            report.failures.filter { $0.kind == .digestMismatch }.map(\.id) == [
                OfflineMailboxTests.expectedID(names["html-only"]!)
            ]
        )
        #expect(!report.findings.contains { $0.kind == .notInManifest })
        // Seeing them again records nothing new, and never overwrites the first digest.
        #expect(try OfflineMailbox(store: .maildir(maildir.root)).synchronize(force: true).digestsRecorded == 0)
        #expect(try Manifest.read(FilePath(manifestPath)) == manifest)
    }

    @Test func anMboxIsProtectedFromFirstSightToo() throws {
        let output = try TemporaryDirectory()
        let path = output.path + "/inbox.mbox"
        let (maildir, _) = try OfflineMailboxTests.corpusMaildir()
        let count = try OfflineMailbox(store: .maildir(maildir.root)).exportMbox(query: nil, to: path, mode: .create)
        var report = try OfflineMailbox(store: .mbox(path)).verify(updateManifest: false)
        #expect(report.checked == count)
        #expect(!report.findings.contains { $0.kind == .notInManifest })
        // Change one byte of a body: the recorded entry no longer exists as it was.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let index = try #require(bytes.lastIndex(of: UInt8(ascii: "e")))
        bytes[index] = UInt8(ascii: "E")
        try bytes.write(to: URL(fileURLWithPath: path))
        report = try OfflineMailbox(store: .mbox(path)).verify(updateManifest: false)
        // (The corpus's headerless message is the other failure, before and after.)
        #expect(report.failures.map(\.kind).filter { $0 != .unparseable } == [.missing])
    }

    @Test func recordInManifestValidatesInput() throws {
        let maildir = try TemporaryMaildir()
        #expect(throws: MailboxError.invalidDigest("xyz")) {
            try recordInManifest(maildir: maildir.root, fileName: "new/a", sha256: "xyz")
        }
        let digest = String(repeating: "ab", count: 32)
        try maildir.deliver(
            Fixture.plain(subject: "s", body: "b"),
            folder: "Sent",
            subdirectory: "cur",
            name: "123.abc:2,S"
        )
        try recordInManifest(maildir: maildir.root, fileName: ".Sent/cur/123.abc:2,S", sha256: digest.uppercased())
        let manifest = try String(contentsOfFile: maildir.root + "/.Sent/" + Manifest.fileName, encoding: .utf8)
        #expect(manifest == "\(digest) 123.abc\n")
    }
}

@Suite("Saving attachments")
struct AttachmentSaveTests {
    @Test func neverWritesOutsideTheDirectory() throws {
        let hostile = [
            "../../etc/passwd", "/tmp/absolute", "..", "", "a\u{0}b", "report.pdf", "report.pdf", "sub/dir/x",
        ]
        let attachments = hostile.enumerated().map { index, name in
            let header =
                "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"\(name)\"\r\n\r\n"
            let part = MessageParser.parse(Array((header + "data\(index)").utf8)).root
            return Attachment(filename: name, isNamedBySender: true, mediaType: "application/octet-stream", part: part)
        }
        let directory = try TemporaryDirectory()
        let target = directory.path + "/out"
        let written = try AttachmentWriter.save(attachments, to: target)
        #expect(written.count == hostile.count)
        for path in written {
            #expect(URL(fileURLWithPath: path).deletingLastPathComponent().path == URL(fileURLWithPath: target).path)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: target).sorted()
        #expect(
            names
                == [
                    "_.._etc_passwd", "_tmp_absolute", "ab", "attachment", "attachment (1)", "report (1).pdf",
                    "report.pdf",
                    "sub_dir_x",
                ].sorted()
        )
        #expect(try String(contentsOfFile: target + "/report (1).pdf", encoding: .utf8) == "data6")
        // A second save never replaces the first.
        let again = try AttachmentWriter.save([attachments[5]], to: target)
        #expect(again == [target + "/report (2).pdf"])
    }

    @Test func doesNotFollowPlantedSymlinks() throws {
        let directory = try TemporaryDirectory()
        let outside = directory.path + "/outside.txt"
        try Data("keep".utf8).write(to: URL(fileURLWithPath: outside))
        try FileManager.default.createDirectory(atPath: directory.path + "/out", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/out/x.txt", withDestinationPath: outside)
        let part = MessageParser.parse(Array("Content-Type: text/plain\r\n\r\nnew".utf8)).root
        let written = try AttachmentWriter.save(
            [Attachment(filename: "x.txt", isNamedBySender: true, mediaType: "text/plain", part: part)],
            to: directory.path + "/out"
        )
        #expect(written == [directory.path + "/out/x (1).txt"])
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "keep")
    }
}
