// The one mbox reader and writer: splitting, keyed entries at each crash point, the torn-entry
// repair rule, and the locks.

import FileIO
import Foundation
import NIOCore
import SystemPackage
import Testing

@testable import MailStore

@Suite("mbox reader")
struct MboxReaderTests {
    static func texts(_ bytes: String) -> [(String, String)] {
        MboxReader.entries(of: Array(bytes.utf8)).map {
            (String(decoding: $0.separator, as: UTF8.self), String(decoding: $0.content, as: UTF8.self))
        }
    }

    @Test("entries start at From lines after an empty line; the separating empty line is not content")
    func splits() {
        let entries = Self.texts(
            "junk\n\nFrom a Mon\nS: 1\n\nbody\nFrom inner\n\nFrom b Tue\r\nS: 2\r\n\r\nFrom c Wed\nlast\n\n"
        )
        #expect(entries.map(\.0) == ["From a Mon", "From b Tue", "From c Wed"])
        #expect(entries.map(\.1) == ["S: 1\n\nbody\nFrom inner\n", "S: 2\r\n", "last\n"])
        #expect(Self.texts("junk\nFrom a\n").isEmpty, "a From line after text starts nothing")
        let all = MboxReader.entries(of: Array("From a\nx\nFrom not-a-separator\n".utf8))
        #expect(all.count == 1)
        #expect(all[0].hasInnerFromLine)
    }

    @Test("offsets and lengths address the stored bytes")
    func offsets() {
        let text = "From a\none\n\nFrom b\ntwo\n"
        let bytes = Array(text.utf8)
        let entries = MboxReader.entries(of: bytes)
        #expect(entries.map(\.separatorOffset) == [0, 12])
        for entry in entries {
            #expect(Array(bytes[entry.offset..<(entry.offset + entry.length)]) == entry.content)
        }
    }

    @Test("reading a file across chunk boundaries gives what reading the bytes gives, in bounded memory")
    func fileMatchesBytes() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            var text = ""
            for index in 0..<40 {
                text += "From sender\(index) Mon Mar  4 10:00:00 2024\n"
                text +=
                    "Subject: \(index)\n\n" + String(repeating: "line \(index) >From x\n", count: 90 * index) + "\n"
            }
            let bytes = Array(text.utf8)
            try TestFiles.writeFile(directory + "/mbox", bytes)
            let file = try File.open(FilePath(directory + "/mbox"), .readOnly)
            defer { file.closeQuietly() }
            var reader = MboxReader(file: file, contentLimit: 64)
            var fromFile: [MboxReader.Entry] = []
            while let entry = try reader.next() {
                fromFile.append(entry)
            }
            let fromBytes = MboxReader.entries(of: bytes)
            #expect(fromFile.count == 40)
            #expect(fromFile.map(\.offset) == fromBytes.map(\.offset))
            #expect(fromFile.map(\.length) == fromBytes.map(\.length))
            #expect(fromFile.map(\.content) == fromBytes.map { Array($0.content.prefix(64)) })
        }
    }

    @Test("From lines format and parse back")
    func fromLines() throws {
        #expect(Mbox.asctime(0) == "Thu Jan  1 00:00:00 1970")
        #expect(Mbox.asctime(1_709_546_400) == "Mon Mar  4 10:00:00 2024")
        let line = Mbox.fromLine(sender: "a b@example.org", date: 1_709_546_400)
        #expect(line == "From ab@example.org Mon Mar  4 10:00:00 2024")
        let parsed = try #require(Mbox.parseFromLine(Array((line + "\r\n").utf8)))
        #expect(parsed.sender == "ab@example.org")
        #expect(parsed.date == "Mon Mar  4 10:00:00 2024")
        #expect(Mbox.fromLine(sender: " \t", date: 0).hasPrefix("From MAILER-DAEMON Thu"))
        #expect(Mbox.parseFromLine(Array("Subject: x".utf8)) == nil)
    }
}

@Suite("mbox writer")
struct MboxWriterTests {
    static func withMbox(_ body: (MboxFile, String) async throws -> Void) async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            try await body(MboxFile(path: FilePath(directory + "/mbox")), directory)
        }
    }

    static func entry(_ mbox: MboxFile, _ directory: String, key: String, body: String) throws -> MboxEntryWriter {
        let writer = try MboxEntryWriter(
            mbox: mbox,
            key: key,
            spool: FilePath(directory + "/.spool-\(key)"),
            sender: "MAILER-DAEMON",
            date: 0
        )
        try writer.writeRaw(Array("X-Trace: \(key)\n".utf8))
        try writer.write(ByteBuffer(string: body))
        try writer.finish()
        return writer
    }

    @Test("an appended keyed entry is found by its key and reads back as the message")
    func keyedRoundTrip() async throws {
        try await Self.withMbox { mbox, directory in
            let body = "Subject: s\r\n\r\nFrom the start\r\n>From quoted\r\nend"
            let offset = try Self.entry(mbox, directory, key: "k1", body: body).commit()
            #expect(offset == 0)
            let second = try Self.entry(mbox, directory, key: "k2", body: "S: 2\r\n\r\nx\r\n").commit()
            let found = try mbox.keyedEntries()
            #expect(found.offsets == ["k1": 0, "k2": second])
            #expect(!found.truncatedTornEntry)
            let entries = MboxReader.entries(of: try TestFiles.readFile(directory + "/mbox"))
            #expect(entries.count == 2)
            let message = String(decoding: Mbox.unquote(entries[0].content), as: UTF8.self)
            #expect(message.hasSuffix("X-Trace: k1\nSubject: s\n\nFrom the start\n>From quoted\nend\n"))
            #expect(try TestFiles.list(directory) == ["mbox"], "the spools are gone")
        }
    }

    @Test("killed before the append: the mbox is untouched; after it: the entry is found, not written twice")
    func crashPoints() async throws {
        try await Self.withMbox { mbox, directory in
            _ = try Self.entry(mbox, directory, key: "k1", body: "S: 1\r\n\r\na\r\n")  // finished, not appended
            #expect(try mbox.keyedEntries().offsets.isEmpty)
            #expect(!TestFiles.exists(directory + "/mbox"))
            // Appended, then killed before the caller recorded it: a rerun finds it by key.
            _ = try Self.entry(mbox, directory, key: "k1", body: "S: 1\r\n\r\na\r\n").commit()
            #expect(try mbox.keyedEntries().offsets == ["k1": 0])
        }
    }

    @Test("a torn last entry is cut off; one followed by another program's mail is kept")
    func tornEntryRule() async throws {
        for foreign in [nil, "\nFrom mailer@example.org Sun Nov 22 05:00:00 2026\nSubject: local\n\nkeep me\n\n"] {
            try await Self.withMbox { mbox, directory in
                _ = try Self.entry(mbox, directory, key: "k1", body: "S: 1\r\n\r\na\r\n").commit()
                let intact = try TestFiles.readFile(directory + "/mbox")
                _ = try Self.entry(
                    mbox,
                    directory,
                    key: "k2",
                    body: "S: 2\r\n\r\n" + String(repeating: "b", count: 500)
                )
                .commit()
                let full = try TestFiles.readFile(directory + "/mbox")
                let torn = Array(full.prefix(intact.count + 90)) + Array((foreign ?? "").utf8)
                try TestFiles.writeFile(directory + "/mbox", torn)
                let found = try mbox.keyedEntries()
                #expect(found.offsets == ["k1": 0])
                #expect(found.truncatedTornEntry == (foreign == nil))
                #expect(try TestFiles.readFile(directory + "/mbox") == (foreign == nil ? intact : torn))
            }
        }
    }

    @Test("an append after a file without a final empty line adds the line ends a separator needs")
    func separatorRepair() async throws {
        for (existing, prefix) in [("From x\nbody", "\n\n"), ("From x\nbody\n", "\n"), ("From x\nbody\n\n", "")] {
            try await Self.withMbox { mbox, directory in
                try TestFiles.writeFile(directory + "/mbox", existing)
                let offset = try mbox.append { file in try file.write(Array("From y\nz\n\n".utf8)) }
                #expect(offset == existing.utf8.count + prefix.utf8.count)
                let text = String(decoding: try TestFiles.readFile(directory + "/mbox"), as: UTF8.self)
                #expect(text == existing + prefix + "From y\nz\n\n")
                #expect(MboxReader.entries(of: Array(text.utf8)).count == 2)
            }
        }
    }

    @Test("a failed append leaves the file as it was")
    func failedAppendIsUndone() async throws {
        struct Stop: Error {}
        try await Self.withMbox { mbox, directory in
            try TestFiles.writeFile(directory + "/mbox", "From x\nbody\n\n")
            #expect(throws: Stop.self) {
                _ = try mbox.append { file in
                    try file.write(Array("From y\nhalf".utf8))
                    throw Stop()
                }
            }
            #expect(String(decoding: try TestFiles.readFile(directory + "/mbox"), as: UTF8.self) == "From x\nbody\n\n")
        }
    }

    @Test("an append waits for another process's fcntl lock")
    func waitsForOtherProcess() async throws {
        try await Self.withMbox { mbox, directory in
            let path = directory + "/mbox"
            try TestFiles.writeFile(path, "")
            // A second process takes the lock, says so, appends its own entry slowly, then unlocks.
            let script = """
                import fcntl, sys, time
                with open(sys.argv[1], "r+b") as f:
                    fcntl.lockf(f, fcntl.LOCK_EX)
                    print("locked", flush=True)
                    time.sleep(0.5)
                    f.seek(0, 2)
                    f.write(b"From other\\nmine\\n\\n")
                    f.flush()
                    fcntl.lockf(f, fcntl.LOCK_UN)
                """
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script, path]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let said = output.fileHandleForReading.availableData
            #expect(String(decoding: said, as: UTF8.self).hasPrefix("locked"))
            let offset = try mbox.append { file in try file.write(Array("From us\nours\n\n".utf8)) }
            process.waitUntilExit()
            #expect(offset == "From other\nmine\n\n".utf8.count, "we appended after the other process")
            #expect(
                String(decoding: try TestFiles.readFile(path), as: UTF8.self) == "From other\nmine\n\nFrom us\nours\n\n"
            )
        }
    }

    @Test("threads of one process appending to one file take turns")
    func inProcessTurns() async throws {
        try await Self.withMbox { mbox, _ in
            // Threads of their own, as separate fetch accounts appending to one mbox would be.
            DispatchQueue.concurrentPerform(iterations: 4) { writer in
                for index in 0..<25 {
                    _ = try? mbox.append { file in
                        try file.write(Array("From w\(writer)\n".utf8))
                        try file.write(Array("n\(index)\n\n".utf8))
                    }
                }
            }
            let entries = MboxReader.entries(of: try FileSystem.readFile(mbox.path))
            #expect(entries.count == 100)
            #expect(entries.allSatisfy { $0.content.count >= 3 && !$0.hasInnerFromLine })
        }
    }
}
