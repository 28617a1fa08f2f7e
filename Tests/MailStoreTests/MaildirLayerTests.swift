// The one Maildir layer: names as bytes, listing, and the streamed delivery at each point a
// crash can stop it.

import Crypto
import FileIO
import NIOCore
import PropertyBased
import SystemPackage
import Testing

@testable import MailStore

@Suite("Maildir names as bytes")
struct MaildirNameBytesTests {
    /// Unique parts drawn from what real names hold (and the escapes we write).
    static let uniqueParts = Gen.int(in: 0..<24).array(of: 1...30).map { choices -> [UInt8] in
        let alphabet = Array("0123456789abcdefMPQVI_.-\\x".utf8) + [0xC3, 0xBC, 0xFF]
        var bytes = choices.map { alphabet[$0] }
        if bytes.first == UInt8(ascii: ".") {
            bytes[0] = UInt8(ascii: "1")
        }
        return bytes
    }

    @Test("format then parse gives every field back, for any unique part, size and flags")
    func roundTrip() async {
        await propertyCheck(
            count: 300,
            input: Self.uniqueParts,
            Gen.int(in: -1...100_000),
            Gen.int(in: 0..<5).array(of: 0...4)
        ) { unique, size, flagChoices in
            let flags = String(decoding: flagChoices.map { Array("SRFTD".utf8)[$0] }, as: UTF8.self)
            var bytes = unique
            if size >= 0 {
                bytes += Array(",S=\(size),W=\(size * 2)".utf8)
            }
            let base = bytes
            bytes += Array(":2,\(flags)".utf8)
            let name = try #require(MaildirFilename(bytes))
            #expect(name.bytes == bytes)
            #expect(Array(name.baseName) == base)
            #expect(Array(name.uniquePart) == unique)
            #expect(name.size == (size >= 0 ? size : nil))
            #expect(name.virtualSize == (size >= 0 ? size * 2 : nil))
            #expect(name.flags.map { Array($0) } == Array(flags.utf8))
            // Setting flags keeps the base name byte for byte and orders them (maildir(5)).
            let flagged = name.withFlags("TS")
            #expect(Array(flagged.baseName) == base)
            #expect(flagged.flags.map(text) == "ST")
        }
    }

    @Test("a name that is not UTF-8 keeps its bytes and its fields")
    func notUTF8() throws {
        let bytes: [UInt8] = Array("1700000000.M5P9Q2.h".utf8) + [0xFF, 0xFE] + Array(",S=7,W=8:2,S".utf8)
        let name = try #require(MaildirFilename(bytes))
        #expect(name.bytes == bytes)
        #expect(name.seconds == 1_700_000_000)
        #expect(name.microseconds == 5)
        #expect(name.processID == 9)
        #expect(name.deliveryCount == 2)
        #expect(name.host.map { Array($0) } == [UInt8(ascii: "h"), 0xFF, 0xFE])
        #expect(name.size == 7)
        #expect(name.virtualSize == 8)
        #expect(name.baseName.count == bytes.count - 4)
    }

    @Test("a caller-chosen identifier makes the time.identifier.host form")
    func identifierForm() throws {
        let unique = MaildirUniqueName.format(seconds: 1_700_000_000, identifier: "0123abcd", host: "mx.example:25")
        #expect(unique == "1700000000.0123abcd.mx.example\\07225")
        let name = MaildirFilename(unique: unique, size: 10, virtualSize: 12)
        #expect(name.deliveryIdentifier.map(text) == "0123abcd")
        #expect(name.host.map(text) == "mx.example\\07225")
        #expect(!MaildirUniqueName.isValidIdentifier("a.b"))
        #expect(!MaildirUniqueName.isValidIdentifier("a,b"))
        #expect(!MaildirUniqueName.isValidIdentifier(""))
    }
}

@Suite("Maildir listing and streamed delivery")
struct MaildirWriterTests {
    static func withMaildir(_ body: (Maildir, String) throws -> Void) async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let maildir = Maildir(path: directory + "/M")
            try maildir.create()
            try body(maildir, directory + "/M")
        }
    }

    static let message = ByteBuffer(string: "Subject: s\r\n\r\nFrom here\r\nbody\r\n")
    static let stored = Array("X-Trace: 1\nSubject: s\n\nFrom here\nbody\n".utf8)

    static func write(_ maildir: Maildir, unique: String = "1700000000.abc.h", finish: Bool = true) throws
        -> MaildirMessageWriter
    {
        let writer = try maildir.makeWriter(uniquePart: unique, temporaryName: "abc.h", computeDigest: true)
        try writer.writeRaw(Array("X-Trace: 1\n".utf8))
        try writer.write(Self.message)
        if finish {
            try writer.finish()
        }
        return writer
    }

    @Test("a committed message is in new/ with ,S= and ,W= of its stored bytes, and its digest")
    func commits() async throws {
        try await Self.withMaildir { maildir, root in
            let writer = try Self.write(maildir)
            let location = try writer.commit()
            #expect(location.subdirectory == .new)
            let bytes = try TestFiles.readFile(root + "/new/" + location.name.description)
            #expect(bytes == Self.stored)
            #expect(location.name.size == bytes.count)
            #expect(location.name.virtualSize == CRLFSizeCounter.size(of: bytes))
            #expect(writer.digest == Array(SHA256.hash(data: bytes)))
            #expect(try TestFiles.list(root + "/tmp") == [])
            #expect(try maildir.listMessages().count == 1)
        }
    }

    @Test("killed while writing or before the commit: nothing in new/; the rerun overwrites the leftover")
    func crashBeforeCommit() async throws {
        for finished in [false, true] {
            try await Self.withMaildir { maildir, root in
                // The first run dies here: the writer is dropped, neither committed nor discarded.
                _ = try Self.write(maildir, finish: finished)
                #expect(try TestFiles.list(root + "/new") == [])
                #expect(try TestFiles.list(root + "/tmp") == ["abc.h"])
                #expect(try maildir.listMessages().isEmpty, "a tmp/ file is never a message")
                let location = try Self.write(maildir).commit()
                #expect(try TestFiles.list(root + "/new") == [location.name.description])
                #expect(try TestFiles.readFile(root + "/new/" + location.name.description) == Self.stored)
                #expect(try TestFiles.list(root + "/tmp") == [])
            }
        }
    }

    @Test("killed after the commit: the copy is found by its identifier, under any flags")
    func crashAfterCommit() async throws {
        try await Self.withMaildir { maildir, root in
            let location = try Self.write(maildir).commit()
            // A mail reader moves it to cur/ and flags it.
            let moved = location.name.withFlags("S")
            try TestFiles.renameFile(root + "/new/" + location.name.description, root + "/cur/" + moved.description)
            let found = try #require(try maildir.locate(baseName: location.baseName))
            #expect(found == MaildirLocation(subdirectory: .cur, name: moved))
            let (file, at) = try #require(try maildir.openMessage(location))
            defer { file.closeQuietly() }
            #expect(at == found)
            #expect(try file.readToEnd() == Self.stored)
        }
    }

    @Test("committing a message under a name already in new/ replaces that copy, never doubles it")
    func sameNameReplaces() async throws {
        try await Self.withMaildir { maildir, root in
            let first = try Self.write(maildir).commit()
            let second = try Self.write(maildir).commit()
            #expect(first == second)
            #expect(try TestFiles.list(root + "/new") == [first.name.description])
        }
    }

    @Test("a completed copy replaces the headers-only one it names, in cur/ as well")
    func replacesOtherCopies() async throws {
        try await Self.withMaildir { maildir, root in
            try TestFiles.writeFile(root + "/cur/1600000000.abc.h,S=3:2,S", "old")
            let old = try #require(try maildir.locate(baseName: Array("1600000000.abc.h,S=3".utf8)))
            let location = try Self.write(maildir).commit(replacing: [old])
            #expect(try TestFiles.list(root + "/cur") == [])
            #expect(try TestFiles.list(root + "/new") == [location.name.description])
        }
    }

    @Test("a discarded write leaves nothing behind")
    func discards() async throws {
        try await Self.withMaildir { maildir, root in
            let writer = try Self.write(maildir, finish: false)
            writer.discard()
            #expect(try TestFiles.list(root + "/tmp") == [])
            #expect(try TestFiles.list(root + "/new") == [])
        }
    }

    @Test("listing skips dotfiles, directories and names a Maildir cannot hold; cur/ wins over new/")
    func listing() async throws {
        try await Self.withMaildir { maildir, root in
            try TestFiles.writeFile(root + "/new/.hidden", "x")
            try TestFiles.writeFile(root + "/new/:2,S", "x")
            try TestFiles.makeDirectory(root + "/new/subdir")
            try TestFiles.writeFile(root + "/new/1.2.h", "x")
            try TestFiles.writeFile(root + "/cur/1.2.h:2,S", "x")
            try TestFiles.writeFile(root + "/cur/" + String(decoding: [0x31, 0x2E, 0xFF], as: UTF8.self), "x")
            let listing = try maildir.listMessages()
            #expect(listing.count == 2)
            #expect(listing[ArraySlice("1.2.h".utf8)]?.subdirectory == .cur)
        }
    }

    @Test("whole-buffer delivery links into new/ and retries on a taken name")
    func wholeBufferDelivery() async throws {
        try await Self.withMaildir { maildir, root in
            let first = try maildir.deliver(Array("a\n".utf8), hostname: "h")
            let second = try maildir.deliver(Array("b\n".utf8), hostname: "h")
            #expect(first != second)
            #expect(Set(try TestFiles.list(root + "/new")) == [first.name.description, second.name.description])
            #expect(first.name.host.map(text) == "h")
        }
    }
}
