import Foundation
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
