import Crypto
import Foundation
import MailStore
import SystemPackage
import Testing

@testable import Mailbox

@Suite("Offline mailbox: index, list, IDs, search")
struct OfflineMailboxTests {
    static func corpusMaildir() throws -> (TemporaryMaildir, [String: String]) {
        let maildir = try TemporaryMaildir()
        var names: [String: String] = [:]
        for (name, bytes) in Fixture.corpus() { names[name] = try maildir.deliver(bytes) }
        return (maildir, names)
    }

    static func expectedID(_ relativeName: String) -> String {
        String(Bytes.hex(SHA256.hash(data: Array(MaildirFolder.uniqueName(relativeName).utf8))).prefix(8))
    }

    @Test func listsNewestFirstWithDecodedFields() throws {
        let (maildir, names) = try Self.corpusMaildir()
        let mailbox = try OfflineMailbox(store: .maildir(maildir.root))
        let list = try mailbox.list()
        #expect(list.count == Fixture.corpus().count)
        #expect(list.map(\.date) == list.map(\.date).sorted(by: >))
        let invoice = try #require(list.first { $0.subject == "Invoice" })
        #expect(invoice.id == Self.expectedID(try #require(names["attachment-2231"])))
        #expect(invoice.attachments == ["Rechnung März.pdf"])
        #expect(invoice.from == "Carol <carol@example.net>")
        #expect(invoice.date == 1_709_627_400)  // Tue, 5 Mar 2024 09:30:00 +0100
        let encoded = try #require(list.first { $0.id == Self.expectedID(names["encoded-subject"]!) })
        #expect(encoded.subject == "Rapport mensuel été")
        #expect(encoded.sender == "Renée Dupont")
        #expect(try mailbox.list(limit: 3).count == 3)
    }

    @Test func idsResolveByPrefixAndRejectUnknown() throws {
        let (maildir, names) = try Self.corpusMaildir()
        let mailbox = try OfflineMailbox(store: .maildir(maildir.root))
        let id = Self.expectedID(names["plain"]!)
        #expect(try mailbox.summary(id: id).subject == "Lunch on Friday")
        #expect(try mailbox.summary(id: String(id.prefix(6)).uppercased()).id == id)
        #expect(throws: MailboxError.unknownID("zzzzzzzz")) { try mailbox.summary(id: "zzzzzzzz") }
        #expect(throws: MailboxError.unknownID("abc")) { try mailbox.summary(id: "abc") }
        let absent = id == "00000000" ? "11111111" : "00000000"
        #expect(throws: MailboxError.self) { try mailbox.summary(id: absent) }
    }

    @Test func shortIDsGrowOnlyWhenPrefixesCollide() {
        let a = "abcdef0123" + String(repeating: "0", count: 54)
        let b = "abcdef0199" + String(repeating: "0", count: 54)
        #expect(ShortID.make(a, previous: nil, next: b) == "abcdef012")
        #expect(ShortID.make(b, previous: a, next: nil) == "abcdef019")
        #expect(ShortID.make(a, previous: nil, next: nil) == "abcdef01")
    }

    @Test func noticesFilesAddedRemovedAndRenamedByOtherPrograms() throws {
        let (maildir, names) = try Self.corpusMaildir()
        let mailbox = try OfflineMailbox(store: .maildir(maildir.root))
        let before = try mailbox.list()
        // Another program marks a message read: new/NAME → cur/NAME:2,S.
        let plain = names["plain"]!
        let renamed = "cur/" + plain.dropFirst(4) + ":2,S"
        try FileManager.default.moveItem(atPath: maildir.path(plain), toPath: maildir.path(renamed))
        // … deletes one and delivers one.
        try FileManager.default.removeItem(atPath: maildir.path(names["html-only"]!))
        try maildir.deliver(Fixture.plain(subject: "Arrived later", body: "new"))
        let after = try mailbox.list()
        #expect(after.count == before.count)
        #expect(after.contains { $0.subject == "Arrived later" })
        #expect(!after.contains { $0.subject == "Newsletter" })
        let moved = try #require(after.first { $0.subject == "Lunch on Friday" })
        #expect(moved.id == Self.expectedID(plain))
        #expect(moved.location == .maildir(folder: "", subdirectory: "cur", fileName: String(renamed.dropFirst(4))))
        #expect(try mailbox.rawMessage(moved) == Fixture.corpus().first { $0.name == "plain" }!.bytes)
    }

    @Test func trustsUnchangedDirectoriesAndReindexRebuilds() throws {
        let (maildir, _) = try Self.corpusMaildir()
        let old = Date(timeIntervalSinceNow: -3600)
        func age() throws {
            for sub in ["new", "cur"] {
                try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: maildir.path(sub))
            }
        }
        try age()
        let mailbox = try OfflineMailbox(store: .maildir(maildir.root))
        let count = try mailbox.list().count
        // A file slipped in with the directory's mtime put back is not seen: the listing
        // was skipped…
        try maildir.deliver(Fixture.plain(subject: "Sneaky", body: "x"))
        try age()
        #expect(try mailbox.list().count == count)
        // … a real change of the directory is…
        try maildir.deliver(Fixture.plain(subject: "Visible", body: "x"))
        #expect(try mailbox.list().count == count + 2)
        // … and reindex reads everything again, with the same IDs.
        let ids = Set(try mailbox.list().map(\.id))
        try mailbox.reindex()
        #expect(Set(try mailbox.list().map(\.id)) == ids)
        // Deleting the index is harmless.
        try FileManager.default.removeItem(atPath: mailbox.indexPath)
        try? FileManager.default.removeItem(atPath: mailbox.indexPath + "-wal")
        try? FileManager.default.removeItem(atPath: mailbox.indexPath + "-shm")
        #expect(Set(try OfflineMailbox(store: .maildir(maildir.root)).list().map(\.id)) == ids)
    }

    @Test(arguments: [
        ("from:carol", ["Invoice", "Photos"]),
        ("from:carol@example.net", ["Invoice", "Photos"]),
        ("from:renée", ["Rapport mensuel été"]),
        ("from:renee", ["Rapport mensuel été"]),  // diacritics folded
        ("to:bob", ["Lunch on Friday", "Rapport mensuel été"]),
        ("subject:invoice", ["Invoice"]),
        ("subject:\"mensuel été\"", ["Rapport mensuel été"]),
        ("has:attachment", ["Invoice", "Photos"]),
        ("noon", ["Lunch on Friday"]),  // body text
        ("reader friend", ["Newsletter"]),  // rendered HTML
        ("\"find the invoice\"", ["Invoice"]),
        ("Rechnung", ["Invoice"]),  // attachment name
        ("after:2024-03-07 before:2024-03-09", ["Photos", "Rapport mensuel été"]),
        ("has:attachment -pictures", ["Invoice"]),
        ("nothing-matches-this", []),
        ("from:@@@", []),
    ])
    func search(query: String, subjects: [String]) throws {
        let (maildir, _) = try Self.corpusMaildir()
        let mailbox = try OfflineMailbox(store: .maildir(maildir.root))
        let parsed = try SearchQuery(parsing: query, timeZone: TimeZone(identifier: "UTC")!)
        #expect(try mailbox.search(parsed).map(\.subject).sorted() == subjects.sorted())
    }

    @Test func invalidQueries() {
        #expect(throws: MailboxError.self) { try SearchQuery(parsing: "before:yesterday") }
        #expect(throws: MailboxError.self) { try SearchQuery(parsing: "has:wings") }
    }

    @Test func foldersAreIndexedAndFiltered() throws {
        let maildir = try TemporaryMaildir()
        try maildir.deliver(Fixture.plain(subject: "In inbox", body: "a"))
        try maildir.deliver(Fixture.plain(subject: "In sent", body: "b"), folder: "Sent", subdirectory: "cur")
        let mailbox = try OfflineMailbox(store: .maildir(maildir.root))
        #expect(try mailbox.list().count == 2)
        #expect(try mailbox.list(folder: "Sent").map(\.subject) == ["In sent"])
        #expect(try mailbox.list(folder: MaildirFolder.normalised("INBOX")).map(\.subject) == ["In inbox"])
        let sent = try #require(try mailbox.list(folder: "Sent").first)
        #expect(String(decoding: try mailbox.rawMessage(sent), as: UTF8.self).contains("In sent"))
    }

    @Test func fetchHookIndexesOneMessage() throws {
        let maildir = try TemporaryMaildir()
        let mailbox = try OfflineMailbox(store: .maildir(maildir.root))
        #expect(try mailbox.list().isEmpty)
        let name = try maildir.deliver(Fixture.plain(subject: "Fetched", body: "hello fetch"))
        try indexMessage(maildir: maildir.root, fileName: name)
        let rows = try mailbox.index.search(SearchQuery(parsing: "fetch"), folder: nil, limit: nil)
        #expect(rows.map(\.subject) == ["Fetched"])
        #expect(throws: MailboxError.self) { try indexMessage(maildir: maildir.root, fileName: "../outside") }
        #expect(throws: MailboxError.messageVanished("nope")) {
            try indexMessage(maildir: maildir.root, fileName: "new/nope")
        }
    }

    @Test func fetchHookIndexesAndRecordsAGroupAtOnce() throws {
        let maildir = try TemporaryMaildir()
        let names = try (1...3).map { try maildir.deliver(Fixture.plain(subject: "Group \($0)", body: "grouped")) }
        let sent = try maildir.deliver(Fixture.plain(subject: "Sent one", body: "grouped"), folder: "Sent")
        let files = names + [sent]
        try recordInManifest(
            maildir: maildir.root,
            entries: try files.map { name in
                (name, Array(SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: maildir.path(name))))))
            }
        )
        try indexMessages(maildir: maildir.root, fileNames: files)
        let mailbox = try OfflineMailbox(store: .maildir(maildir.root))
        let rows = try mailbox.index.search(SearchQuery(parsing: "grouped"), folder: nil, limit: nil)
        #expect(Set(rows.map(\.subject)) == ["Group 1", "Group 2", "Group 3", "Sent one"])
        #expect(try Manifest.read(FilePath(maildir.root + "/" + Manifest.fileName)).count == 3)
        #expect(try Manifest.read(FilePath(maildir.root + "/.Sent/" + Manifest.fileName)).count == 1)
        // Indexing again replaces, never duplicates.
        try indexMessages(maildir: maildir.root, fileNames: files)
        #expect(try mailbox.index.search(SearchQuery(parsing: "grouped"), folder: nil, limit: nil).count == 4)
        #expect(try mailbox.verify(updateManifest: false).isSuccess)
    }

    @Test func mboxStoreHasOffsetIndependentIDs() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/archive.mbox"
        let first = Fixture.plain(subject: "First", body: "From the start\n>From quoted\n")
        let second = Fixture.plain(subject: "Second", body: "two\n")
        func entry(_ bytes: [UInt8]) -> [UInt8] {
            Array("From a@example.com Mon Mar  4 10:00:00 2024\n".utf8) + Mbox.quote(bytes[...]) + [0x0A]
        }
        try Data(entry(first) + entry(second)).write(to: URL(fileURLWithPath: path))
        let mailbox = try OfflineMailbox(store: .mbox(path))
        let list = try mailbox.list()
        #expect(Set(list.map(\.subject)) == ["First", "Second"])
        let firstSummary = try #require(list.first { $0.subject == "First" })
        #expect(try mailbox.rawMessage(firstSummary) == first)
        #expect(firstSummary.id == String(Bytes.hex(SHA256.hash(data: first)).prefix(8)))
        // Prepend a message: offsets move, IDs stay.
        try Data(entry(Fixture.plain(subject: "Zeroth", body: "0\n")) + entry(first) + entry(second))
            .write(to: URL(fileURLWithPath: path))
        let again = try mailbox.list()
        #expect(again.count == 3)
        #expect(again.first { $0.subject == "First" }?.id == firstSummary.id)
        #expect(try mailbox.rawMessage(try mailbox.summary(id: firstSummary.id)) == first)
    }
}

@Suite("Maildir names")
struct MaildirNameTests {
    @Test(arguments: [
        ("1700000000.M1P2.host,S=1234,W=1260:2,S", "1700000000.M1P2.host,S=1234,W=1260", 1234 as Int?),
        ("new/1700000000.M1P2.host,S=99", "1700000000.M1P2.host,S=99", 99),
        (".Sent/cur/123.abc:2,", "123.abc", nil),
        ("1.2.host,XS=5", "1.2.host,XS=5", nil),
        ("a:2,S=7", "a", nil),  // flags are not a size
    ])
    func uniqueNamesAndSizes(fileName: String, unique: String, size: Int?) {
        #expect(MaildirFolder.uniqueName(fileName) == unique)
        #expect(MaildirFilename(parsing: fileName.split(separator: "/").last ?? "")?.size == size)
    }
}
