// A MailStore in memory, for tests and demos: the same contract as MaildirStore (exclusive
// sessions, takeover of silent ones, deletions only at commit) without a file system.

import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// A `MailStore` that keeps every message as bytes in memory.
///
/// Sessions exclude each other per user (`.inUse`), and a session silent for `takeoverAfter`
/// is taken over by the next open, exactly as `MaildirStore` behaves, except that the check is
/// made lazily by the new opener instead of by a timer. Copies of this value share one store.
public struct InMemoryMailStore: MailStore {
    private let storage: Storage
    /// Silence after which a session's maildrop may be taken over.
    public var takeoverAfter: Duration { self.storage.takeoverAfter }

    /// An empty store.
    ///
    /// - Parameters:
    ///   - users: when given, the only users that exist; others get `.noSuchUser`. When `nil`,
    ///     every valid user name has a (possibly empty) maildrop.
    ///   - takeoverAfter: silence after which a new open takes a session's maildrop over.
    ///   - chunkSize: the largest chunk `readContent` hands out (tests use small ones to cross
    ///     chunk boundaries).
    public init(users: Set<String>? = nil, takeoverAfter: Duration = .seconds(60), chunkSize: Int = 64 * 1024) {
        precondition(chunkSize > 0, "chunkSize must be positive")
        self.storage = Storage(users: users, takeoverAfter: takeoverAfter, chunkSize: chunkSize)
    }

    public func openMaildrop(user: String) async throws -> any Maildrop {
        let storage = self.storage
        let (generation, snapshot) = try storage.state.withLockedValue { state in
            try storage.checkUser(user)
            let now = ContinuousClock.now
            if let lease = state.leases[user], now - lease.lastActivity < storage.takeoverAfter {
                throw MailStoreError.inUse
            }
            state.nextGeneration += 1
            state.leases[user] = Lease(generation: state.nextGeneration, lastActivity: now)
            return (state.nextGeneration, state.mailboxes[user, default: []])
        }
        return InMemoryMaildrop(storage: storage, user: user, generation: generation, snapshot: snapshot)
    }

    /// Appends `message` to `user`'s maildrop under a new Maildir-style unique name.
    public func deliver(user: String, message: [UInt8]) async throws -> String {
        let storage = self.storage
        let name = MaildirFilename(
            unique: MaildirUniqueName.generate(host: "memory"),
            size: message.count,
            virtualSize: CRLFSizeCounter.size(of: message)
        ).description
        try storage.state.withLockedValue { state in
            try storage.checkUser(user)
            state.mailboxes[user, default: []].append(StoredMessage(name: name, bytes: message))
        }
        return name
    }

    /// The messages `user` has now, in delivery order (for tests: what survived a session).
    public func storedMessages(of user: String) -> [[UInt8]] {
        self.storage.state.withLockedValue { $0.mailboxes[user, default: []].map(\.bytes) }
    }

    // MARK: - Shared state

    struct StoredMessage: Sendable {
        var name: String
        var bytes: [UInt8]
    }

    struct Lease: Sendable {
        var generation: Int
        var lastActivity: ContinuousClock.Instant
    }

    struct State: Sendable {
        var mailboxes: [String: [StoredMessage]] = [:]
        var leases: [String: Lease] = [:]
        var nextGeneration = 0
    }

    final class Storage: Sendable {
        let users: Set<String>?
        let takeoverAfter: Duration
        let chunkSize: Int
        let state = NIOLockedValueBox(State())

        init(users: Set<String>?, takeoverAfter: Duration, chunkSize: Int) {
            self.users = users
            self.takeoverAfter = takeoverAfter
            self.chunkSize = chunkSize
        }

        func checkUser(_ user: String) throws(MailStoreError) {
            guard MaildirPathTemplate.isAcceptable(user), self.users?.contains(user) ?? true else {
                throw .noSuchUser(user)
            }
        }
    }
}

/// The `Maildrop` of `InMemoryMailStore`.
final class InMemoryMaildrop: Maildrop {
    let messages: [MaildropMessage]
    private let storage: InMemoryMailStore.Storage
    private let user: String
    private let generation: Int
    private let snapshot: [InMemoryMailStore.StoredMessage]
    private let closed = Atomic<Bool>(false)

    init(storage: InMemoryMailStore.Storage, user: String, generation: Int, snapshot: [InMemoryMailStore.StoredMessage])
    {
        self.storage = storage
        self.user = user
        self.generation = generation
        self.snapshot = snapshot
        let names = snapshot.map { MaildirFilename(parsing: $0.name)?.baseName ?? ArraySlice($0.name.utf8) }
        self.messages = zip(snapshot, UniqueIDMapper.uniqueIDs(for: names)).map { message, id in
            MaildropMessage(uniqueID: id, size: CRLFSizeCounter.size(of: message.bytes))
        }
    }

    deinit {
        self.release()
    }

    func readContent(at index: Int, _ body: (ByteBuffer) async throws -> Void) async throws {
        guard self.snapshot.indices.contains(index) else {
            throw MailStoreError.io("no message \(index + 1) in this maildrop")
        }
        let bytes = self.snapshot[index].bytes
        var start = 0
        while start < bytes.count {
            try self.checkLease()
            let end = min(start + self.storage.chunkSize, bytes.count)
            try await body(ByteBuffer(bytes: bytes[start..<end]))
            start = end
        }
    }

    func commitDeletions(_ indices: [Int]) async throws {
        for index in indices where !self.snapshot.indices.contains(index) {
            throw MailStoreError.io("no message \(index + 1) in this maildrop")
        }
        let names = Set(indices.map { self.snapshot[$0].name })
        try self.storage.state.withLockedValue { state in
            try self.checkLease(&state)
            state.mailboxes[self.user, default: []].removeAll { names.contains($0.name) }
        }
    }

    func touch() async throws {
        try self.checkLease()
    }

    func close() async {
        self.release()
    }

    private func checkLease() throws {
        try self.storage.state.withLockedValue { state in try self.checkLease(&state) }
    }

    private func checkLease(_ state: inout InMemoryMailStore.State) throws(MailStoreError) {
        guard !self.closed.load(ordering: .relaxed) else { throw .io("maildrop is closed") }
        guard state.leases[self.user]?.generation == self.generation else { throw .takenOver }
        state.leases[self.user]?.lastActivity = .now
    }

    private func release() {
        guard !self.closed.exchange(true, ordering: .relaxed) else { return }
        self.storage.state.withLockedValue { state in
            if state.leases[self.user]?.generation == self.generation {
                state.leases[self.user] = nil
            }
        }
    }
}
