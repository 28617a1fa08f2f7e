import FileIO
import MailCore
import NIOCore
import TestTiming
import Testing

@testable import MailStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A Maildir store in a temporary directory: user `u`'s Maildir is `<dir>/u/Maildir`.
struct MaildirFixture {
    var directory: String
    var store: MaildirStore

    /// Without a takeover time of the test's own, 60 s, scaled for slow builds (no session may
    /// lose its lease by being slow).
    init(directory: String, takeoverAfter: Duration? = nil, descriptorBudget: DescriptorBudget = .shared) throws {
        self.directory = directory
        self.store = try MaildirStore(
            template: directory + "/%u/Maildir",
            takeoverAfter: takeoverAfter ?? TestTimeScale.scaled(.seconds(60)),
            hostname: "test.example",
            descriptorBudget: descriptorBudget
        )
    }

    func root(_ user: String = "alice") -> String { self.directory + "/" + user + "/Maildir" }

    func open(_ user: String = "alice") async throws -> MaildirMaildrop {
        try await self.store.openMaildirMaildrop(user: user)
    }

    /// Writes a message file into `new/` or `cur/` of `user`'s Maildir.
    func put(_ name: String, _ body: String, in sub: String = "new", user: String = "alice") throws {
        try TestFiles.makeMaildir(self.directory + "/" + user)
        try TestFiles.makeMaildir(self.root(user))
        try TestFiles.writeFile(self.root(user) + "/" + sub + "/" + name, body)
    }

    static func content(_ maildrop: any Maildrop, _ index: Int) async throws -> [UInt8] {
        var out: [UInt8] = []
        try await maildrop.readContent(at: index) { buffer in out += buffer.readableBytesView }
        return out
    }
}

@Suite("Maildir store: snapshot, sizes, streaming, deletions")
struct MaildirStoreTests {
    @Test("a missing Maildir is created and is an empty maildrop")
    func createsMissing() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            let maildrop = try await fixture.open()
            #expect(maildrop.messages.isEmpty)
            for sub in ["cur", "new", "tmp"] {
                #expect(TestFiles.exists(fixture.root() + "/" + sub))
            }
            await maildrop.close()
        }
    }

    @Test("lists new/ and cur/ in delivery order, skipping dotfiles, tmp/, folders and directories")
    func snapshotOrder() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("300.M1P1.h", "third\n")
            try fixture.put("100.M20P1.h:2,S", "first-b\n", in: "cur")
            try fixture.put("100.M5P1.h", "first-a\n")
            try fixture.put("200.1.h:2,", "second\n", in: "cur")
            try fixture.put(".hidden", "no\n")
            try fixture.put(".100.M1P1.h", "no\n", in: "cur")
            try fixture.put("50.M1P1.h", "in tmp\n", in: "tmp")
            try TestFiles.makeMaildir(fixture.root() + "/.Sent")
            try TestFiles.writeFile(fixture.root() + "/.Sent/cur/10.M1P1.h:2,S", "folder\n")
            try TestFiles.makeDirectory(fixture.root() + "/cur/20.M1P1.dir")
            try TestFiles.writeFile(fixture.root() + "/dovecot-uidlist", "3 V1 N1\n")

            let maildrop = try await fixture.open()
            #expect(maildrop.messages.map(\.uniqueID) == ["100.M5P1.h", "100.M20P1.h", "200.1.h", "300.M1P1.h"])
            var bodies: [String] = []
            for index in maildrop.messages.indices {
                bodies.append(String(decoding: try await MaildirFixture.content(maildrop, index), as: UTF8.self))
            }
            #expect(bodies == ["first-a\n", "first-b\n", "second\n", "third\n"])
            await maildrop.close()
        }
    }

    static let sizeCases: [(String, [UInt8])] = [
        ("LF", Array("Subject: a\n\nline\n".utf8)),
        ("CRLF", Array("Subject: a\r\n\r\nline\r\n".utf8)),
        ("mixed", Array("Subject: a\r\n\nline\nmore\r\n".utf8)),
        ("no final newline", Array("Subject: a\n\nno end".utf8)),
        ("NUL and 8-bit", [0x41, 0x00, 0x0A, 0xFF, 0xC3, 0xBC, 0x0D, 0x0A, 0x80]),
        ("empty", []),
    ]

    @Test("sizes are the CRLF octets of the real file", arguments: Self.sizeCases)
    func sizes(_ label: String, _ body: [UInt8]) async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try TestFiles.makeMaildir(directory + "/alice")
            try TestFiles.makeMaildir(fixture.root())
            try TestFiles.writeFile(fixture.root() + "/new/1000.M1P1.h", body)
            try TestFiles.writeFile(fixture.root() + "/cur/1001.M1P1.h:2,S", body)
            let maildrop = try await fixture.open()
            let expected = TestFiles.crlfConverted(body).count
            #expect(maildrop.messages.map(\.size) == [expected, expected])
            #expect(maildrop.sizesComputed == 2)
            #expect(try await MaildirFixture.content(maildrop, 0) == body, "content is streamed as stored")
            await maildrop.close()
        }
    }

    @Test("a ,W= in the name is the size, and the file is not read for it")
    func sizeFromName() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1000.M1P1.h,S=5,W=11:2,S", "abc\nd", in: "cur")
            try fixture.put("1001.M1P1.h,S=5", "abc\nd")
            let maildrop = try await fixture.open()
            // 11 is what the name says (the file would count 8): the name is believed.
            #expect(maildrop.messages.map(\.size) == [11, 8])
            #expect(maildrop.sizesComputed == 1)
            await maildrop.close()
            let cache = try TestFiles.readFile(fixture.root() + "/postoffice-sizes")
            let text = String(decoding: cache, as: UTF8.self)
            #expect(!text.contains("1000.M1P1.h"), "names with ,W= need no cache entry")
            #expect(text.contains("1001.M1P1.h,S=5"))
        }
    }

    @Test("a ,W= that cannot be true is not believed, so no name can overflow the maildrop's total")
    func implausibleSizeInName() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1000.M1P1.h,W=999999999999999999", "a\n")
            try fixture.put("1001.M1P1.h,S=2,W=999999999999999999", "b\n")
            try fixture.put("1002.M1P1.h,S=2,W=1", "c\n")
            let maildrop = try await fixture.open()
            #expect(maildrop.messages.map(\.size) == [3, 3, 3])
            await maildrop.close()
        }
    }

    @Test("the size cache spares a second open from reading any message file")
    func sizeCache() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1000.M1P1.h", "a\nb\n")
            try fixture.put("1001.M1P1.h:2,S", "c\r\nd\n", in: "cur")
            try fixture.put("1002.M1P1.h", "e")
            let first = try await fixture.open()
            #expect(first.sizesComputed == 3)
            #expect(first.sizesFromCache == 0)
            let sizes = first.messages.map(\.size)
            #expect(sizes == [6, 6, 3])
            await first.close()

            let cache = SizeCache(parsing: try TestFiles.readFile(fixture.root() + "/postoffice-sizes"))
            #expect(cache.entries.count == 3)
            #expect(cache.entries[ArraySlice("1001.M1P1.h".utf8)]?.crlfSize == 6, "keyed by base name, not flags")

            let second = try await fixture.open()
            #expect(second.sizesComputed == 0)
            #expect(second.sizesFromCache == 3)
            #expect(second.messages.map(\.size) == sizes)
            await second.close()
        }
    }

    @Test("a cached size is trusted only while file size and mtime match")
    func sizeCacheValidation() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1000.M1P1.h", "a\nb\n")
            try TestFiles.setModificationTime(fixture.root() + "/new/1000.M1P1.h", seconds: 1_600_000_000)
            // A cache entry whose key matches is used as it is: proof that the file is not read.
            try TestFiles.writeFile(
                fixture.root() + "/postoffice-sizes",
                "postoffice-sizes 2\n999 4 1600000000 0 1000.M1P1.h\n"
            )
            let trusted = try await fixture.open()
            #expect(trusted.messages.map(\.size) == [999])
            #expect(trusted.sizesComputed == 0)
            await trusted.close()

            // Same size, other mtime: recounted.
            try TestFiles.setModificationTime(fixture.root() + "/new/1000.M1P1.h", seconds: 1_600_000_001)
            let recounted = try await fixture.open()
            #expect(recounted.messages.map(\.size) == [6])
            #expect(recounted.sizesComputed == 1)
            await recounted.close()

            // Other size, same mtime: recounted too.
            try TestFiles.writeFile(fixture.root() + "/new/1000.M1P1.h", "a\nb\nc\n")
            try TestFiles.setModificationTime(fixture.root() + "/new/1000.M1P1.h", seconds: 1_600_000_001)
            let grown = try await fixture.open()
            #expect(grown.messages.map(\.size) == [9])
            #expect(grown.sizesComputed == 1)
            await grown.close()
        }
    }

    @Test(
        "a damaged size cache costs a recount, never a wrong size",
        arguments: [
            "garbage",
            "postoffice-sizes 2\n999 4 1600000000 0 1000.M1P1",  // truncated: no final LF
            "postoffice-sizes 2\n999 x 1600000000 0 1000.M1P1.h\n",
            "postoffice-sizes 1\n999 4 1600000000 0 1000.M1P1.h\n",  // an older format: recounted
            "",
        ]
    )
    func damagedCache(_ content: String) async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1000.M1P1.h", "a\nb\n")
            try TestFiles.setModificationTime(fixture.root() + "/new/1000.M1P1.h", seconds: 1_600_000_000)
            try TestFiles.writeFile(fixture.root() + "/postoffice-sizes", content)
            let maildrop = try await fixture.open()
            #expect(maildrop.messages.map(\.size) == [6])
            #expect(maildrop.sizesComputed == 1)
            await maildrop.close()
            let rewritten = SizeCache(parsing: try TestFiles.readFile(fixture.root() + "/postoffice-sizes"))
            #expect(rewritten.entries[ArraySlice("1000.M1P1.h".utf8)]?.crlfSize == 6)
        }
    }

    @Test("unique-ids are stable across sessions, flag changes and a move to cur/")
    func uidlStability() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            let long = "1001.M41850P8566V0000000000000015I0000000004F3030E_0.mx1.mail.example.com,S=4"
            try fixture.put("1000.M1P1.h", "a\n")
            try fixture.put(long, "b\n")
            try fixture.put("1002.M1P1.sp ace", "c\n", in: "cur")
            let first = try await fixture.open()
            let ids = first.messages.map(\.uniqueID.rawValue)
            await first.close()

            #expect(ids[0] == "1000.M1P1.h")
            #expect(ids[1] == UniqueIDMapper.digestID(Array(long.utf8), salt: 0))
            #expect(ids[2] == UniqueIDMapper.digestID(Array("1002.M1P1.sp ace".utf8), salt: 0))
            #expect(Set(ids).count == 3)

            try TestFiles.renameFile(fixture.root() + "/new/1000.M1P1.h", fixture.root() + "/cur/1000.M1P1.h:2,S")
            try TestFiles.renameFile(fixture.root() + "/new/" + long, fixture.root() + "/cur/" + long + ":2,RS")
            try fixture.put("999.M1P1.h", "older, delivered later\n")
            let second = try await fixture.open()
            #expect(Array(second.messages.map(\.uniqueID.rawValue).dropFirst()) == ids)
            await second.close()

            // A new store value (a restart) computes the same ids.
            let restarted = try MaildirStore(template: directory + "/%u/Maildir", hostname: "other")
            let third = try await restarted.openMaildrop(user: "alice")
            #expect(Array(third.messages.map(\.uniqueID.rawValue).dropFirst()) == ids)
            await third.close()
        }
    }

    @Test("a message renamed by another MUA during the session is still read and deleted")
    func movedFiles() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1000.M1P1.h", "first\n")
            try fixture.put("1001.M1P1.h:2,", "second\n", in: "cur")
            try fixture.put("1002.M1P1.h", "third\n")
            let maildrop = try await fixture.open()

            try TestFiles.renameFile(fixture.root() + "/new/1000.M1P1.h", fixture.root() + "/cur/1000.M1P1.h:2,S")
            try TestFiles.renameFile(fixture.root() + "/cur/1001.M1P1.h:2,", fixture.root() + "/cur/1001.M1P1.h:2,FS")
            #expect(try await MaildirFixture.content(maildrop, 0) == Array("first\n".utf8))
            #expect(try await MaildirFixture.content(maildrop, 1) == Array("second\n".utf8))

            try TestFiles.renameFile(fixture.root() + "/cur/1000.M1P1.h:2,S", fixture.root() + "/cur/1000.M1P1.h:2,RS")
            try await maildrop.commitDeletions([0, 1])
            #expect(try TestFiles.list(fixture.root() + "/cur") == [])
            #expect(try TestFiles.list(fixture.root() + "/new") == ["1002.M1P1.h"])
            await maildrop.close()
        }
    }

    @Test("a vanished message fails to read, and its deletion is not an error")
    func vanished() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1000.M1P1.h", "gone\n")
            try fixture.put("1001.M1P1.h", "stays\n")
            let maildrop = try await fixture.open()
            try TestFiles.removeFile(fixture.root() + "/new/1000.M1P1.h")
            await #expect(throws: MailStoreError.self) { _ = try await MaildirFixture.content(maildrop, 0) }
            try await maildrop.commitDeletions([0])
            #expect(try TestFiles.list(fixture.root() + "/new") == ["1001.M1P1.h"])
            await #expect(throws: MailStoreError.self) { try await maildrop.commitDeletions([2]) }
            await #expect(throws: MailStoreError.self) { try await maildrop.readContent(at: -1) { _ in } }
            await maildrop.close()
        }
    }

    @Test("a message truncated or rewritten by another program fails to read before any byte")
    func changedSize() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1000.M1P1.h", "Subject: a\n\nfirst message body\n")
            try fixture.put("1001.M1P1.h,S=23,W=26", "Subject: b\n\nsecond one\n")
            try fixture.put("1002.M1P1.h", "Subject: c\n\nstays as it was\n")
            let maildrop = try await fixture.open()
            try TestFiles.writeFile(fixture.root() + "/new/1000.M1P1.h", "Subject: a\n")
            try TestFiles.writeFile(fixture.root() + "/new/1001.M1P1.h,S=23,W=26", "Subject: b\n\nsecond one, longer\n")
            var delivered = 0
            await #expect(throws: MailStoreError.self) {
                try await maildrop.readContent(at: 0) { _ in delivered += 1 }
            }
            await #expect(throws: MailStoreError.self) {
                try await maildrop.readContent(at: 1) { _ in delivered += 1 }
            }
            #expect(delivered == 0)
            #expect(try await MaildirFixture.content(maildrop, 2) == Array("Subject: c\n\nstays as it was\n".utf8))
            await maildrop.close()
        }
    }

    @Test("a message that grows while it streams sends the size checked at open, no more")
    func grownWhileStreaming() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            let line = Array("a line of a message that spans more than one chunk\n".utf8)
            let body = Array([[UInt8]](repeating: line, count: MaildirMaildrop.chunkSize / line.count + 100).joined())
            let path = fixture.root() + "/new/1000.M1P1.h"
            try fixture.put("1000.M1P1.h", "")
            try TestFiles.writeFile(path, body)
            let maildrop = try await fixture.open()
            var received: [UInt8] = []
            try await maildrop.readContent(at: 0) { buffer in
                if received.isEmpty {
                    // Another program appends to the file (same inode) after the first chunk.
                    try TestFiles.writeFile(path, body + Array("appended later\n".utf8))
                }
                received += buffer.readableBytesView
            }
            // Compared first as a count, then as a flag: a failure shows the sizes, not 130 KB.
            let same = received == body
            #expect(received.count == body.count)
            #expect(same)
            await maildrop.close()
        }
    }

    @Test("commitDeletions removes exactly the given messages; mail delivered meanwhile stays")
    func deletions() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            for second in 1000..<1005 {
                try fixture.put("\(second).M1P1.h", "message \(second)\n")
            }
            let maildrop = try await fixture.open()
            let late = try await fixture.store.deliver(user: "alice", message: Array("late\n".utf8))
            try await maildrop.commitDeletions([1, 3, 3])
            await maildrop.close()
            #expect(
                try TestFiles.list(fixture.root() + "/new")
                    == ["1000.M1P1.h", "1002.M1P1.h", "1004.M1P1.h", late].sorted()
            )
        }
    }

    @Test("a 20 MB message streams in bounded chunks, byte for byte")
    func streamsLargeMessage() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try TestFiles.makeMaildir(directory + "/alice")
            try TestFiles.makeMaildir(fixture.root())
            // LF-only lines, each 1000th one marked so that a misplaced chunk would show.
            let line = Array("0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;\n".utf8)
            let lines = 20 * 1024 * 1024 / line.count + 1
            let body = [UInt8](unsafeUninitializedCapacity: lines * line.count) { buffer, count in
                line.withUnsafeBytes { pattern in
                    for index in 0..<lines {
                        let start = index * line.count
                        memcpy(buffer.baseAddress! + start, pattern.baseAddress!, line.count)
                        if index % 1000 == 0 {
                            buffer[start + line.count - 2] = UInt8(truncatingIfNeeded: index / 1000)
                        }
                    }
                }
                count = lines * line.count
            }
            try TestFiles.writeFile(fixture.root() + "/new/1000.M1P1.h", body)
            let maildrop = try await fixture.open()
            #expect(maildrop.messages[0].size == body.count + lines)

            var received = 0
            var largestChunk = 0
            var chunks = 0
            var matches = true
            try await maildrop.readContent(at: 0) { buffer in
                chunks += 1
                largestChunk = max(largestChunk, buffer.readableBytes)
                let same = buffer.withUnsafeReadableBytes { chunk in
                    body.withUnsafeBytes { all in
                        received + chunk.count <= all.count
                            && memcmp(chunk.baseAddress!, all.baseAddress! + received, chunk.count) == 0
                    }
                }
                matches = matches && same
                received += buffer.readableBytes
            }
            #expect(received == body.count)
            #expect(matches)
            #expect(largestChunk <= MaildirMaildrop.chunkSize)
            #expect(chunks >= body.count / MaildirMaildrop.chunkSize)
            await maildrop.close()
        }
    }

    @Test("an error thrown by the consumer stops the stream and the session goes on")
    func consumerError() async throws {
        struct Stop: Error {}
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try TestFiles.makeMaildir(directory + "/alice")
            try TestFiles.makeMaildir(fixture.root())
            try TestFiles.writeFile(fixture.root() + "/new/1000.M1P1.h", [UInt8](repeating: 0x41, count: 200_000))
            let maildrop = try await fixture.open()
            var calls = 0
            await #expect(throws: Stop.self) {
                try await maildrop.readContent(at: 0) { _ in
                    calls += 1
                    throw Stop()
                }
            }
            #expect(calls == 1)
            #expect(try await MaildirFixture.content(maildrop, 0).count == 200_000)
            try await maildrop.touch()
            await maildrop.close()
        }
    }
}
