import Foundation
import MailCore
import MailStore
import NIOCore
import Testing

@testable import PostgresStore

@Suite("Migration between Maildirs and PostgreSQL", .serialized)
struct MailboxMigrationTests {
    /// A Maildir with files of chosen names (their base names are the UIDLs), each modified at
    /// the time its name starts with.
    static func makeMaildir(_ root: String, files: [String: String]) throws {
        for sub in ["tmp", "new", "cur"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(sub)", withIntermediateDirectories: true)
        }
        for (name, text) in files {
            let sub = name.contains(":2,") ? "cur" : "new"
            let path = "\(root)/\(sub)/\(name)"
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let seconds = try #require(Double(name.prefix { $0 != "." }))
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: seconds)],
                ofItemAtPath: path
            )
        }
    }

    static func list(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    static func modified(_ path: String) throws -> Int {
        let date = try #require(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
        return Int(date.timeIntervalSince1970)
    }

    static func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let path = NSTemporaryDirectory() + "po-migrate-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }

    @Test("Maildir to PostgreSQL and back keeps UIDLs, sizes, bytes, seen flags and times; a second run copies nothing")
    func roundTrip() async throws {
        try await Self.withTemporaryDirectory { directory in
            try await TestDatabase.withFresh { database in
                try Self.makeMaildir(
                    "\(directory)/a/alice/Maildir",
                    files: [
                        "1700000001.M1P1.host": "Subject: one\n\nbody\n",
                        "1700000002.M2P2.host:2,SR": "Subject: two\r\n\r\nseen\r\n",
                        "1700000003.M3P3.host": "Subject: three\n\n.dot\nno end",
                    ]
                )
                let maildir = try MaildirStore(template: "\(directory)/a/%u/Maildir")
                let postgres = PostgresMailStore(database: database)
                let before = try await maildir.openMaildrop(user: "alice")
                let listing = before.messages
                var contents: [[UInt8]] = []
                for index in listing.indices { contents.append(try await content(before, at: index)) }
                await before.close()

                let forward = MailboxMigration(source: MaildirMigrationStore(maildir), target: postgres)
                let first = try await forward.migrate(user: "alice")
                #expect(first.copied == 3)
                #expect(first.seen == 1)
                #expect(first.verified)
                #expect(
                    try await postgres.attributes(user: "alice") == [
                        "1700000001.M1P1.host": MessageAttributes(deliveredAt: 1_700_000_001),
                        "1700000002.M2P2.host": MessageAttributes(maildirFlags: "RS", deliveredAt: 1_700_000_002),
                        "1700000003.M3P3.host": MessageAttributes(deliveredAt: 1_700_000_003),
                    ]
                )
                let again = try await forward.migrate(user: "alice")
                #expect(again.copied == 0)
                #expect(again.alreadyThere == 3)
                #expect(again.verified)

                let inDatabase = try await postgres.openMaildrop(user: "alice")
                #expect(Set(inDatabase.messages) == Set(listing))
                #expect(
                    inDatabase.messages.compactMap(\.arrival).sorted() == [1_700_000_001, 1_700_000_002, 1_700_000_003]
                )
                for (index, message) in inDatabase.messages.enumerated() {
                    let original = try #require(listing.firstIndex(of: message))
                    #expect(
                        try await content(inDatabase, at: index)
                            == Array(WireForm.of(contents[original]).readableBytesView)
                    )
                }
                await inDatabase.close()

                // New mail in PostgreSQL, then back to a fresh Maildir tree.
                _ = try await postgres.deliver(user: "alice", message: Array("Subject: new\n\nx\n".utf8))
                let back = try MaildirStore(template: "\(directory)/b/%u/Maildir")
                let backward = MailboxMigration(source: postgres, target: MaildirMigrationStore(back))
                let returned = try await backward.migrate(user: "alice")
                #expect(returned.copied == 4)
                #expect(returned.verified)
                // Seen mail goes back to cur/ with its flags, new mail to new/; times are kept.
                let root = "\(directory)/b/alice/Maildir"
                #expect(try Self.list(root + "/cur") == ["1700000002.M2P2.host:2,RS"])
                let fresh = try #require(try Self.list(root + "/new").first { $0.hasPrefix("P") })
                #expect(try Self.list(root + "/new") == ["1700000001.M1P1.host", "1700000003.M3P3.host", fresh])
                #expect(try Self.modified(root + "/cur/1700000002.M2P2.host:2,RS") == 1_700_000_002)
                #expect(try Self.modified(root + "/new/1700000003.M3P3.host") == 1_700_000_003)
                #expect(abs(try Self.modified(root + "/new/" + fresh) - Int(Date().timeIntervalSince1970)) < 600)
                let final = try await back.openMaildrop(user: "alice")
                #expect(Set(final.messages.map(\.uniqueID)).isSuperset(of: listing.map(\.uniqueID)))
                #expect(final.messages.count == 4)
                await final.close()
            }
        }
    }

    @Test("a name stating its file's size (,S=) gets a file of that size back: LF line ends, as it had")
    func statedSizeKept() async throws {
        try await Self.withTemporaryDirectory { directory in
            try await TestDatabase.withFresh { database in
                let lf = "Subject: sized\n\nline one\nline two\n"
                let unterminated = "Subject: open\n\nno end"
                let name = "1700000005.M5P5.host,S=\(lf.utf8.count),W=\(lf.utf8.count + 4)"
                let openName = "1700000006.M6P6.host,S=\(unterminated.utf8.count),W=\(unterminated.utf8.count + 4)"
                try Self.makeMaildir("\(directory)/a/lea/Maildir", files: [name: lf, openName: unterminated])
                let postgres = PostgresMailStore(database: database)
                let source = try MaildirStore(template: "\(directory)/a/%u/Maildir")
                #expect(
                    try await MailboxMigration(source: MaildirMigrationStore(source), target: postgres)
                        .migrate(user: "lea").verified
                )
                let back = try MaildirStore(template: "\(directory)/b/%u/Maildir")
                #expect(
                    try await MailboxMigration(source: postgres, target: MaildirMigrationStore(back))
                        .migrate(user: "lea").verified
                )
                let root = "\(directory)/b/lea/Maildir/new/"
                #expect(try Data(contentsOf: URL(fileURLWithPath: root + name)) == Data(lf.utf8))
                #expect(try Data(contentsOf: URL(fileURLWithPath: root + openName)) == Data(unterminated.utf8))
            }
        }
    }

    @Test("messages go in batches; a run after an interrupted one copies only what is missing")
    func batchesAndResume() async throws {
        try await Self.withTemporaryDirectory { directory in
            try await TestDatabase.withFresh { database in
                let count = 2 * MailboxMigration.batchMessages + 50
                var files: [String: String] = [:]
                for index in 0..<count {
                    files["\(1_700_000_000 + index).M\(index)P1.host"] = "Subject: \(index)\n\nbody \(index)\n"
                }
                try Self.makeMaildir("\(directory)/kim/Maildir", files: files)
                let maildir = try MaildirStore(template: "\(directory)/%u/Maildir")
                let postgres = PostgresMailStore(database: database)
                // What an interrupted run left: its first batches, committed.
                let earlier = files.keys.sorted().prefix(150).map { name in
                    MigratedMessage(
                        uniqueID: UniqueID(unchecked: name),
                        message: Array(WireForm.of(Array(files[name]!.utf8)).readableBytesView)
                    )
                }
                #expect(try await postgres.importMessages(user: "kim", Array(earlier)) == 150)
                #expect(try await postgres.importMessages(user: "kim", Array(earlier)) == 0)

                let report = try await MailboxMigration(source: MaildirMigrationStore(maildir), target: postgres)
                    .migrate(user: "kim")
                #expect(report.messages == count)
                #expect(report.alreadyThere == 150)
                #expect(report.copied == count - 150)
                #expect(report.verified)
                #expect(try await postgres.attributes(user: "kim").count == count)
            }
        }
    }

    @Test("a maildrop in use is not migrated, and nothing is copied")
    func sourceInUse() async throws {
        try await Self.withTemporaryDirectory { directory in
            try await TestDatabase.withFresh { database in
                try Self.makeMaildir("\(directory)/bob/Maildir", files: ["1700000001.M1P1.h": "x\n"])
                let maildir = try MaildirStore(template: "\(directory)/%u/Maildir")
                let postgres = PostgresMailStore(database: database)
                let session = try await maildir.openMaildrop(user: "bob")
                await #expect(throws: MailStoreError.inUse) {
                    _ = try await MailboxMigration(source: MaildirMigrationStore(maildir), target: postgres)
                        .migrate(user: "bob")
                }
                await session.close()
                #expect(try await postgres.attributes(user: "bob").isEmpty)
            }
        }
    }
}
