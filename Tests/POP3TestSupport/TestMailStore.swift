// Test support: a MailStore in memory, honouring the one-session-per-maildrop lock and takeover.
import MailCore
public import MailStore
import NIOConcurrencyHelpers
import NIOCore
import TestTiming

/// An in-memory ``MailStore`` for tests. Messages are stored as given (LF line ends in
/// fixtures); sizes are CRLF-normalised as a real store reports them.
///
/// Locking follows the contract: a second open throws `.inUse` unless the holder has been
/// silent for longer than `takeoverAfter`, in which case the newer open takes over and the
/// older maildrop's `touch()` throws `.takenOver`.
public final class TestMailStore: MailStore {
    public struct StoredMessage: Sendable {
        public var uniqueID: String
        public var bytes: [UInt8]
        /// Seconds since 1970 (`MaildropMessage.arrival`); nil: unknown.
        public var arrival: Int?
    }

    struct Lock {
        var generation: Int
        var lastActivity: ContinuousClock.Instant
    }

    struct State {
        var mailboxes: [String: [StoredMessage]] = [:]
        var locks: [String: Lock] = [:]
        var nextGeneration = 1
        var nextUID = 1
        var openFailures: [String: MailStoreError] = [:]
        var commitFailures: [String: MailStoreError] = [:]
        /// Unique ids whose reads fail before the first chunk, with the error.
        var readFailures: [String: MailStoreError] = [:]
        var opens = 0
        var closes = 0
        var contentBytesRead = 0
        var takeoverHandlers: [Int: @Sendable () -> Void] = [:]
    }

    // A pthread-backed lock, which the thread sanitizer understands.
    let state = NIOLockedValueBox(State())
    /// Seconds of silence after which a newer login takes the maildrop over; by default 60 s,
    /// scaled for slow builds (no test's session may lose its maildrop by being slow).
    public let takeoverAfter: Duration
    /// Size of the chunks `readContent` hands out, to exercise chunk boundaries.
    public let chunkSize: Int

    public init(takeoverAfter: Duration? = nil, chunkSize: Int = 4096) {
        self.takeoverAfter = takeoverAfter ?? TestTimeScale.scaled(.seconds(60))
        self.chunkSize = chunkSize
    }

    /// Adds a message for `user`; returns its unique id.
    @discardableResult
    public func add(user: String, message: String, uniqueID: String? = nil, arrival: Int? = nil) -> String {
        add(user: user, bytes: Array(message.utf8), uniqueID: uniqueID, arrival: arrival)
    }

    /// Adds a message for `user` that arrived at `arrival` (seconds since 1970); returns its
    /// unique id.
    @discardableResult
    public func add(user: String, bytes: [UInt8], uniqueID: String? = nil, arrival: Int? = nil) -> String {
        state.withLockedValue { state in
            let uid = uniqueID ?? "uid\(state.nextUID)"
            precondition(UniqueID.isValid(uid.utf8), "a test message needs a valid unique-id, not \(uid)")
            state.nextUID += 1
            state.mailboxes[user, default: []].append(StoredMessage(uniqueID: uid, bytes: bytes, arrival: arrival))
            return uid
        }
    }

    /// The unique ids currently stored for `user`.
    public func uniqueIDs(user: String) -> [String] {
        state.withLockedValue { $0.mailboxes[user, default: []].map(\.uniqueID) }
    }

    /// Whether someone holds `user`'s lock.
    public func isLocked(user: String) -> Bool {
        state.withLockedValue { $0.locks[user] != nil }
    }

    /// Make the next opens for `user` fail with `error` (nil clears).
    public func failOpen(user: String, with error: MailStoreError?) {
        state.withLockedValue { $0.openFailures[user] = error }
    }

    /// Make `commitDeletions` for `user` fail with `error` (nil clears).
    public func failCommits(user: String, with error: MailStoreError?) {
        state.withLockedValue { $0.commitFailures[user] = error }
    }

    /// Make reads of the message `uniqueID` fail, before any chunk, with `error` (nil clears):
    /// a file removed or changed by another program.
    public func failReads(uniqueID: String, with error: MailStoreError?) {
        state.withLockedValue { $0.readFailures[uniqueID] = error }
    }

    /// Message bytes handed to readers so far (to see how far ahead of the peer a server reads).
    public var contentBytesRead: Int {
        state.withLockedValue { $0.contentBytesRead }
    }

    /// How many maildrops were opened and closed so far.
    public var openAndCloseCounts: (opens: Int, closes: Int) {
        state.withLockedValue { ($0.opens, $0.closes) }
    }

    public func openMaildrop(user: String) async throws -> any Maildrop {
        let now = ContinuousClock.now
        return try state.withLockedValue { state in
            if let error = state.openFailures[user] { throw error }
            if let lock = state.locks[user], now - lock.lastActivity < takeoverAfter {
                throw MailStoreError.inUse
            }
            let generation = state.nextGeneration
            state.nextGeneration += 1
            // A silent holder learns of the takeover at once, as a real store's timer tells it.
            if let previous = state.locks[user],
                let handler = state.takeoverHandlers.removeValue(forKey: previous.generation)
            {
                handler()
            }
            state.locks[user] = Lock(generation: generation, lastActivity: now)
            state.opens += 1
            let messages = state.mailboxes[user, default: []]
            return TestMaildrop(store: self, user: user, generation: generation, snapshot: messages)
        }
    }

    public func deliver(user: String, message: [UInt8]) async throws -> String {
        add(user: user, bytes: message)
    }

    /// Ages `user`'s lock as if its holder had been silent for `takeoverAfter`.
    public func expireLock(user: String) {
        state.withLockedValue { state in
            state.locks[user]?.lastActivity = ContinuousClock.now - takeoverAfter - .seconds(1)
        }
    }
}

final class TestMaildrop: Maildrop {
    let store: TestMailStore
    let user: String
    let generation: Int
    let snapshot: [TestMailStore.StoredMessage]
    let messages: [MaildropMessage]

    init(store: TestMailStore, user: String, generation: Int, snapshot: [TestMailStore.StoredMessage]) {
        self.store = store
        self.user = user
        self.generation = generation
        self.snapshot = snapshot
        self.messages = snapshot.map {
            MaildropMessage(
                uniqueID: UniqueID(unchecked: $0.uniqueID),
                size: CRLFSizeCounter.size(of: $0.bytes),
                arrival: $0.arrival
            )
        }
    }

    private func checkOwner() throws {
        try store.state.withLockedValue { state in
            guard state.locks[user]?.generation == generation else { throw MailStoreError.takenOver }
        }
    }

    func readContent(at index: Int, _ body: (ByteBuffer) async throws -> Void) async throws {
        try checkOwner()
        let uniqueID = snapshot[index].uniqueID
        if let error = store.state.withLockedValue({ $0.readFailures[uniqueID] }) { throw error }
        let bytes = snapshot[index].bytes
        var offset = 0
        repeat {
            let end = min(bytes.count, offset + store.chunkSize)
            store.state.withLockedValue { $0.contentBytesRead += end - offset }
            try await body(ByteBuffer(bytes: bytes[offset..<end]))
            offset = end
        } while offset < bytes.count
    }

    func commitDeletions(_ indices: [Int]) async throws {
        try checkOwner()
        if let error = store.state.withLockedValue({ $0.commitFailures[user] }) { throw error }
        let doomed = Set(indices.map { snapshot[$0].uniqueID })
        store.state.withLockedValue { state in
            state.mailboxes[user, default: []].removeAll { doomed.contains($0.uniqueID) }
        }
    }

    func touch() async throws {
        try store.state.withLockedValue { state in
            guard state.locks[user]?.generation == generation else { throw MailStoreError.takenOver }
            state.locks[user]?.lastActivity = ContinuousClock.now
        }
    }

    func whenTakenOver(_ handler: @escaping @Sendable () -> Void) {
        let takenOver: Bool = store.state.withLockedValue { state in
            guard state.locks[user]?.generation == generation else { return true }
            state.takeoverHandlers[generation] = handler
            return false
        }
        if takenOver { handler() }
    }

    func close() async {
        store.state.withLockedValue { state in
            state.takeoverHandlers[generation] = nil
            if state.locks[user]?.generation == generation { state.locks[user] = nil }
            state.closes += 1
        }
    }
}
