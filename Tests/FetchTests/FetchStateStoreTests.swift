import Foundation
import MailCore
import Testing

@testable import Fetch

@Suite("State store and lock")
struct FetchStateStoreTests {
    @Test("entries round-trip and survive reopening")
    func roundTrip() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/s.sqlite"
        let entry = FetchStateEntry(
            uniqueID: "u1",
            size: 42,
            firstDownloaded: 1_700_000_000,
            location: "/x/new/1",
            status: .stored,
            headersOnly: true,
            generation: 3
        )
        do {
            let store = try FetchStateStore(path: path, account: "a@h")
            try store.record(entry)
            try store.record(FetchStateEntry(uniqueID: "u2", size: nil, firstDownloaded: 5, location: ""))
        }
        let reopened = try FetchStateStore(path: path, account: "a@h")
        let entries = try reopened.entries()
        #expect(entries["u1"] == entry)
        #expect(entries["u2"]?.size == nil)
        #expect(try reopened.entry(for: "u1") == entry)
        #expect(try reopened.entry(for: "nope") == nil)
    }

    @Test("status changes and insert-if-absent")
    func statusAndAbsent() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FetchStateStore(path: directory.path + "/s.sqlite", account: "a@h")
        try store.record(FetchStateEntry(uniqueID: "a", size: 1, firstDownloaded: 1, location: "l"))
        try store.setStatus(.deletedOnServer, for: ["a", "missing"])
        #expect(try store.entry(for: "a")?.status == .deletedOnServer)
        let inserted = try store.recordIfAbsent([
            FetchStateEntry(uniqueID: "a", size: 9, firstDownloaded: 9, location: ""),
            FetchStateEntry(uniqueID: "b", size: 9, firstDownloaded: 9, location: ""),
        ])
        #expect(inserted == 1)
        #expect(try store.entry(for: "a")?.size == 1)
    }

    @Test("the database is in WAL mode with synchronous FULL")
    func durabilitySettings() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/s.sqlite"
        let store = try FetchStateStore(path: path, account: "a@h")
        try store.record(FetchStateEntry(uniqueID: "a", size: 1, firstDownloaded: 1, location: "l"))
        // The WAL file exists next to the database while it is open.
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(try store.pragma("journal_mode") == "wal")
        #expect(try store.pragma("synchronous") == "2")
    }

    @Test("short copies and hand-overs round-trip; recording a message settles its hand-over")
    func shortCopiesAndHandOvers() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let store = try FetchStateStore(path: directory.path + "/s.sqlite", account: "a@h")
        try store.record(FetchStateEntry(uniqueID: "s", size: 9, firstDownloaded: 1, location: "l", shortCopy: true))
        try store.recordHandOver(of: "m", generation: 0, at: 5)
        try store.recordHandOver(of: "n", generation: 1, at: 5)
        try store.recordHandOver(of: "gone", generation: 0, at: 5)
        var snapshot = try store.snapshot()
        #expect(snapshot.entries["s"]?.shortCopy == true)
        #expect(snapshot.unconfirmedHandOvers == ["m", "n", "gone"])
        try store.record(FetchStateEntry(uniqueID: "m", size: 9, firstDownloaded: 1, location: "mda"))
        try store.abandonHandOver(of: "n")
        try store.dropHandOvers(of: ["gone"])
        snapshot = try store.snapshot()
        #expect(snapshot.unconfirmedHandOvers.isEmpty)
        #expect(snapshot.entries["m"]?.location == "mda")
        #expect(snapshot.entries["n"] == nil)
    }

    @Test("a state file written before short copies and hand-overs existed opens and upgrades")
    func upgradesVersion1() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/old.sqlite"
        // The v1 schema as GRDB's migrator left it.
        let script = """
            CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
            INSERT INTO grdb_migrations VALUES ('v1');
            CREATE TABLE message (uidl TEXT PRIMARY KEY NOT NULL, size INTEGER, first_downloaded INTEGER NOT NULL,
                location TEXT NOT NULL, status TEXT NOT NULL, headers_only INTEGER NOT NULL DEFAULT 0,
                generation INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('account', 'a@h');
            INSERT INTO message VALUES ('old', 42, 7, '/m/new/x', 'stored', 0, 0);
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sqlite3", path, script]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let store = try FetchStateStore(path: path, account: "a@h")
        let snapshot = try store.snapshot()
        #expect(
            snapshot.entries["old"]
                == FetchStateEntry(uniqueID: "old", size: 42, firstDownloaded: 7, location: "/m/new/x")
        )
        #expect(snapshot.unconfirmedHandOvers.isEmpty)
        try store.recordHandOver(of: "x", generation: 0, at: 1)
        #expect(try store.snapshot().unconfirmedHandOvers == ["x"])
    }

    @Test("a state of another account is refused")
    func accountMismatch() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/s.sqlite"
        _ = try FetchStateStore(path: path, account: "a@h")
        #expect(throws: FetchFailure.self) { try FetchStateStore(path: path, account: "b@h") }
    }

    @Test("the account lock is exclusive and released when dropped")
    func lock() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/s.lock"
        var first: AccountLock? = try AccountLock(path: path)
        let error = #expect(throws: FetchFailure.self) { try AccountLock(path: path) }
        #expect(error?.kind == .locked)
        #expect(first != nil)
        first = nil
        _ = try AccountLock(path: path)
    }
}
