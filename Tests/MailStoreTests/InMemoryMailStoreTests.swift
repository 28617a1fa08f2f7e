import NIOCore
import Testing

@testable import MailStore

@Suite("In-memory store")
struct InMemoryMailStoreTests {
    @Test("delivers, snapshots, streams in chunks and deletes at commit")
    func roundTrip() async throws {
        let store = InMemoryMailStore(chunkSize: 3)
        let first = try await store.deliver(user: "alice", message: Array("one\n".utf8))
        _ = try await store.deliver(user: "alice", message: Array("two\r\nlines\n".utf8))
        let maildrop = try await store.openMaildrop(user: "alice")
        _ = try await store.deliver(user: "alice", message: Array("late\n".utf8))
        #expect(maildrop.messages.map(\.size) == [5, 12])
        #expect(maildrop.messages[0].uniqueID == first)

        var chunks: [[UInt8]] = []
        try await maildrop.readContent(at: 1) { chunks.append(Array($0.readableBytesView)) }
        #expect(chunks.allSatisfy { $0.count <= 3 })
        #expect(chunks.flatMap { $0 } == Array("two\r\nlines\n".utf8))

        try await maildrop.commitDeletions([0])
        await maildrop.close()
        #expect(store.storedMessages(of: "alice") == [Array("two\r\nlines\n".utf8), Array("late\n".utf8)])
    }

    @Test("one session per user; closing frees it; a dropped session deletes nothing")
    func exclusive() async throws {
        let store = InMemoryMailStore()
        _ = try await store.deliver(user: "alice", message: [0x41])
        let first = try await store.openMaildrop(user: "alice")
        await #expect(throws: MailStoreError.inUse) { _ = try await store.openMaildrop(user: "alice") }
        let bob = try await store.openMaildrop(user: "bob")
        await first.close()
        let second = try await store.openMaildrop(user: "alice")
        #expect(second.messages.count == 1)
        await second.close()
        await bob.close()
    }

    @Test("a silent session is taken over")
    func takeover() async throws {
        let store = InMemoryMailStore(takeoverAfter: .milliseconds(200))
        _ = try await store.deliver(user: "alice", message: [0x41])
        let old = try await store.openMaildrop(user: "alice")
        try await Task.sleep(for: .milliseconds(300))
        let new = try await store.openMaildrop(user: "alice")
        await #expect(throws: MailStoreError.takenOver) { try await old.touch() }
        await #expect(throws: MailStoreError.takenOver) { try await old.commitDeletions([0]) }
        #expect(store.storedMessages(of: "alice").count == 1)
        await old.close()
        await #expect(throws: MailStoreError.inUse) { _ = try await store.openMaildrop(user: "alice") }
        await new.close()
    }

    @Test("unknown and invalid users")
    func users() async throws {
        let store = InMemoryMailStore(users: ["alice"])
        await #expect(throws: MailStoreError.noSuchUser("mallory")) {
            _ = try await store.openMaildrop(user: "mallory")
        }
        await #expect(throws: MailStoreError.noSuchUser("a/b")) {
            _ = try await store.deliver(user: "a/b", message: [])
        }
        let open = InMemoryMailStore()
        await #expect(throws: MailStoreError.noSuchUser("..")) { _ = try await open.openMaildrop(user: "..") }
        #expect(try await open.openMaildrop(user: "anyone").messages.isEmpty)
    }
}
