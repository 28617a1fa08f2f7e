import FileIO
import MailCore
import Testing

@testable import MailStore

@Suite("Maildir delivery")
struct MaildirDeliveryTests {
    @Test("delivers into new/ with ,S= and ,W=, leaving nothing in tmp/")
    func delivers() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            let message = Array("Subject: hi\n\nbody\r\nmore\n".utf8)
            let name = try await fixture.store.deliver(user: "alice", message: message)

            let parsed = try #require(MaildirFilename(parsing: name))
            #expect(parsed.size == message.count)
            #expect(parsed.virtualSize == TestFiles.crlfConverted(message).count)
            #expect(parsed.info == nil)
            #expect(parsed.host.map(text) == "test.example")
            #expect(parsed.processID != nil)
            #expect(try TestFiles.list(fixture.root() + "/new") == [name])
            #expect(try TestFiles.list(fixture.root() + "/tmp") == [])
            #expect(try TestFiles.readFile(fixture.root() + "/new/" + name) == message)

            let maildrop = try await fixture.open()
            #expect(
                maildrop.messages == [
                    MaildropMessage(
                        uniqueID: UniqueID(unchecked: name),
                        size: parsed.virtualSize!,
                        arrival: parsed.seconds
                    )
                ]
            )
            // The arrival is the delivery time the new name begins with: now.
            let now = FileTime.now().seconds
            let arrival = try #require(parsed.seconds)
            #expect(arrival <= now && now - arrival < 600)
            #expect(maildrop.sizesComputed == 0, "the size comes from the name")
            await maildrop.close()
        }
    }

    @Test("many deliveries get distinct names and keep their order")
    func distinctNames() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            var names: [String] = []
            for index in 0..<50 {
                names.append(try await fixture.store.deliver(user: "bob", message: Array("m\(index)\n".utf8)))
            }
            #expect(Set(names).count == 50)
            #expect(try TestFiles.list(fixture.root("bob") + "/tmp") == [])
            let maildrop = try await fixture.open("bob")
            #expect(maildrop.messages.map(\.uniqueID.rawValue) == names)
            await maildrop.close()
        }
    }

    @Test("concurrent deliveries all arrive")
    func concurrent() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            let store = fixture.store
            let names = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<40 {
                    group.addTask { try await store.deliver(user: "carol", message: Array("c\(index)\n".utf8)) }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(names.count == 40)
            #expect(Set(try TestFiles.list(fixture.root("carol") + "/new")) == names)
        }
    }

    @Test("delivery works while a session holds the maildrop, and the session does not see it")
    func deliverWhileLocked() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            let maildrop = try await fixture.open()
            _ = try await fixture.store.deliver(user: "alice", message: Array("x\n".utf8))
            #expect(maildrop.messages.isEmpty)
            await maildrop.close()
            let next = try await fixture.open()
            #expect(next.messages.count == 1)
            await next.close()
        }
    }

    @Test("an empty message and one with NUL and 8-bit bytes are stored byte for byte")
    func binary() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            let binary: [UInt8] = [0x00, 0xFF, 0x0A, 0x0D, 0x80, 0x0A]
            let empty = try await fixture.store.deliver(user: "alice", message: [])
            let other = try await fixture.store.deliver(user: "alice", message: binary)
            #expect(MaildirFilename(parsing: empty)?.virtualSize == 0)
            #expect(MaildirFilename(parsing: other)?.virtualSize == 8)
            let maildrop = try await fixture.open()
            #expect(try await MaildirFixture.content(maildrop, 0) == [])
            #expect(try await MaildirFixture.content(maildrop, 1) == binary)
            await maildrop.close()
        }
    }

    @Test("a message stored under a chosen name keeps it (so its UIDL) and its bytes; a taken name stores nothing")
    func storesUnderChosenName() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            let maildir = Maildir(path: fixture.root("dora"))
            let first = Array("Subject: one\r\n\r\nbody\r\n".utf8)
            let second = Array("Subject: two\r\n\r\n.dot\r\n".utf8)
            let firstName = try #require(MaildirFilename(parsing: "1700000000.uidl-one.host"))
            let secondName = try #require(MaildirFilename(parsing: "P42:2,RS"))
            #expect(
                try maildir.store(first, as: MaildirLocation(subdirectory: .new, name: firstName), temporaryName: "a")
            )
            #expect(
                try maildir.store(second, as: MaildirLocation(subdirectory: .cur, name: secondName), temporaryName: "b")
            )
            let taken = MaildirLocation(subdirectory: .new, name: firstName)
            #expect(try !maildir.store(Array("other\r\n".utf8), as: taken, temporaryName: "c"))

            #expect(try TestFiles.list(fixture.root("dora") + "/new") == ["1700000000.uidl-one.host"])
            #expect(try TestFiles.list(fixture.root("dora") + "/cur") == ["P42:2,RS"])
            #expect(try TestFiles.list(fixture.root("dora") + "/tmp") == [])
            let maildrop = try await fixture.open("dora")
            let byID = Dictionary(uniqueKeysWithValues: maildrop.messages.enumerated().map { ($1.uniqueID, $0) })
            #expect(Set(byID.keys) == ["1700000000.uidl-one.host", "P42"])
            let one = try #require(byID["1700000000.uidl-one.host"])
            let two = try #require(byID["P42"])
            #expect(maildrop.messages[one].size == first.count)
            #expect(try await MaildirFixture.content(maildrop, one) == first)
            #expect(try await MaildirFixture.content(maildrop, two) == second)
            await maildrop.close()
        }
    }

    @Test("entries lists each message with the UIDL the maildrop gives it, where it is and its time")
    func entries() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            #expect(try fixture.store.entries(user: "erin").isEmpty, "no Maildir yet")
            let long = String(repeating: "n", count: 80)  // too long to be a UIDL: mapped to a digest
            try fixture.put("1700000001.M1P1.host", "one\n", user: "erin")
            try fixture.put("1700000002.M2P2.host:2,RS", "two\n", in: "cur", user: "erin")
            try fixture.put(long, "three\n", user: "erin")
            let maildir = Maildir(path: fixture.root("erin"))
            let newName = try #require(MaildirFilename(parsing: "1700000001.M1P1.host"))
            try FileSystem.setTimes(
                maildir.path(of: MaildirLocation(subdirectory: .new, name: newName)),
                to: FileTime(seconds: 1_700_000_001)
            )

            let entries = try fixture.store.entries(user: "erin")
            let maildrop = try await fixture.open("erin")
            #expect(Set(entries.map(\.uniqueID)) == Set(maildrop.messages.map(\.uniqueID)))
            await maildrop.close()
            let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0.location.name.description, $0) })
            #expect(byName["1700000001.M1P1.host"]?.location.subdirectory == .new)
            #expect(byName["1700000001.M1P1.host"]?.modificationTime == FileTime(seconds: 1_700_000_001))
            #expect(byName["1700000002.M2P2.host:2,RS"]?.location.subdirectory == .cur)
            #expect(byName["1700000002.M2P2.host:2,RS"]?.uniqueID == "1700000002.M2P2.host")
            #expect(byName[long]?.uniqueID.rawValue.hasPrefix("~") == true)
        }
    }
}

@Suite("Maildir tmp/ cleanup")
struct MaildirTemporaryCleanupTests {
    @Test("opening removes tmp/ files untouched for 36 hours and keeps fresh ones")
    func cleansStaleTemporaryFiles() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            let fixture = try MaildirFixture(directory: directory)
            try fixture.put("1000.M1P1.stale", "left over", in: "tmp")
            try fixture.put("1000.M1P1.fresh", "being written", in: "tmp")
            try fixture.put("1000.M1P1.edge", "35 hours", in: "tmp")
            let now = FileTime.now().seconds
            try TestFiles.setModificationTime(fixture.root() + "/tmp/1000.M1P1.stale", seconds: now - 37 * 3600)
            try TestFiles.setModificationTime(fixture.root() + "/tmp/1000.M1P1.edge", seconds: now - 35 * 3600)
            let maildrop = try await fixture.open()
            #expect(try TestFiles.list(fixture.root() + "/tmp") == ["1000.M1P1.edge", "1000.M1P1.fresh"])
            #expect(maildrop.messages.isEmpty, "tmp/ is never part of the maildrop")
            await maildrop.close()
        }
    }
}
