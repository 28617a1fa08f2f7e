// A maildrop in PostgreSQL: the snapshot taken at open, reads in pieces, deletions in one
// transaction, and the lease kept alive without a write per command.
import Logging
import MailStore
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// The `Maildrop` of ``PostgresMailStore``.
///
/// The lease is the mailbox's row: the generation this session took, stamped with the
/// database's `now()` at most once per ``LeaseTiming/stampInterval`` (by `touch()`, reads and
/// the commit), expiring ``LeaseTiming/expiry`` after the last stamp. A newer login may take
/// the row once it expired, which bumps the generation. Every stamp and the commit name this
/// session's generation: when the row has another, the session was taken over, and from then
/// on `touch()`, reads and `commitDeletions` throw `.takenOver` and nothing is deleted. A node
/// that dies simply stops stamping: its sessions' maildrops are free after the lease runs
/// out, as a silent session's are on one host. No connection is held between statements.
final class PostgresMaildrop: Maildrop {
    let messages: [MaildropMessage]
    let mailboxID: Int64
    let generation: Int64

    private let store: PostgresMailStore
    /// `mailbox_messages.id` of each message, in message-number order.
    private let entries: [Int64]

    private enum Status {
        case held
        case lost
        case closed
    }

    private struct State {
        var status = Status.held
        /// When the row was last stamped (or taken), by this process's clock.
        var lastStamp = ContinuousClock.now
        /// Stamps written (for tests and the benchmarks' cost per session).
        var stamps = 0
    }

    private let state = NIOLockedValueBox(State())

    init(store: PostgresMailStore, mailboxID: Int64, generation: Int64, entries: [Int64], messages: [MaildropMessage]) {
        self.store = store
        self.mailboxID = mailboxID
        self.generation = generation
        self.entries = entries
        self.messages = messages
    }

    deinit {
        // The server always closes a maildrop; this only covers a caller that forgot.
        let open = self.state.withLockedValue { state in
            defer { state.status = .closed }
            return state.status == .held
        }
        self.store.takeovers.stopWatching(ObjectIdentifier(self))
        if open {
            Task { [store, mailboxID, generation] in
                await store.releaseLease(mailboxID: mailboxID, generation: generation)
            }
        }
    }

    /// Stamps written to the database by this session so far.
    var stampCount: Int { self.state.withLockedValue { $0.stamps } }

    // MARK: - Maildrop

    func touch() async throws {
        if try self.stampIsDue() {
            try await self.stamp()
        }
    }

    /// Streams message `index`: this recipient's own lines, then the body, a few pieces per
    /// statement. Each batch is read whole and the connection given back before `body` sees it,
    /// so a slow client holds no connection.
    func readContent(at index: Int, _ body: (ByteBuffer) async throws -> Void) async throws {
        let entry = try self.entry(at: index)
        try await self.touch()
        let database = self.store.database
        let batch = PostgresMailStore.chunksPerRead
        do {
            let first = try await database.rows(
                """
                SELECT mm.message_id, m.chunk_count, mm.prefix, c.seq, c.data
                FROM mailbox_messages mm
                JOIN messages m ON m.id = mm.message_id
                LEFT JOIN message_chunks c ON c.message_id = mm.message_id AND c.seq < \(batch)
                WHERE mm.id = \(entry) AND mm.mailbox_id = \(self.mailboxID)
                ORDER BY c.seq
                """
            )
            guard let head = first.first else {
                throw MailStoreError.io("message \(index + 1) no longer exists")
            }
            let (messageID, chunkCount, prefix) = try head.decode((Int64, Int32, ByteBuffer).self)
            if prefix.readableBytes > 0 {
                try await body(prefix)
            }
            var next: Int32 = 0
            var pieces = try first.compactMap { row -> (Int32, ByteBuffer)? in
                let (_, _, _, seq, data) = try row.decode((Int64, Int32, ByteBuffer, Int32?, ByteBuffer?).self)
                guard let seq, let data else { return nil }
                return (seq, data)
            }
            while next < chunkCount {
                for (seq, data) in pieces {
                    guard seq == next else { throw MailStoreError.io("message \(index + 1) changed while it was read") }
                    try await body(data)
                    next += 1
                }
                guard next < chunkCount else { break }
                try await self.touch()
                pieces = try await database.rows(
                    """
                    SELECT seq, data FROM message_chunks
                    WHERE message_id = \(messageID) AND seq >= \(next) AND seq < \(next + Int32(batch))
                    ORDER BY seq
                    """
                ).map { try $0.decode((Int32, ByteBuffer).self) }
                guard !pieces.isEmpty else { throw MailStoreError.io("message \(index + 1) no longer exists") }
            }
        } catch let error as DatabaseFailure {
            throw MailStoreError.io(error.description)
        } catch let error as PostgresDecodingError {
            throw MailStoreError.io(DatabaseFailure(error).description)
        }
        // Errors `body` throws (a client gone, TOP having sent enough) pass unchanged.
    }

    /// Removes the entries at `indices` in one transaction that first checks (and stamps) the
    /// lease, so a session that was taken over deletes nothing; bodies no entry uses any more
    /// go with them. Entries already gone are skipped.
    func commitDeletions(_ indices: [Int]) async throws {
        let ids = try Set(indices).sorted().map { try self.entry(at: $0) }
        try self.checkHeld()
        let (mailboxID, generation, expiry) = (self.mailboxID, self.generation, self.store.timing.expiryMicroseconds)
        let logger = self.store.database.logger
        do {
            try await self.store.database.transaction { connection in
                let leased = try await connection.query(
                    """
                    UPDATE mailboxes SET lease_activity = now(),
                        lease_expires = now() + \(expiry) * interval '1 microsecond'
                    WHERE id = \(mailboxID) AND lease_generation = \(generation)
                    RETURNING id
                    """,
                    logger: logger
                ).collect()
                guard !leased.isEmpty else { throw MailStoreError.takenOver }
                let gone = try await connection.query(
                    "DELETE FROM mailbox_messages WHERE mailbox_id = \(mailboxID) AND id = ANY(\(ids)) RETURNING message_id",
                    logger: logger
                ).collect()
                var references: [Int64: Int32] = [:]
                for row in gone {
                    references[try row.decode(Int64.self), default: 0] += 1
                }
                guard !references.isEmpty else { return }
                let bodies = references.keys.sorted()
                let counts = bodies.map { references[$0]! }  // safe: the keys come from the dictionary
                // Rows locked in id order, so two sessions releasing shared bodies never deadlock.
                try await connection.query(
                    "SELECT id FROM messages WHERE id = ANY(\(bodies)) ORDER BY id FOR UPDATE",
                    logger: logger
                )
                try await connection.query(
                    """
                    UPDATE messages m SET refs = m.refs - d.n
                    FROM unnest(\(bodies)::bigint[], \(counts)::integer[]) AS d(id, n)
                    WHERE m.id = d.id
                    """,
                    logger: logger
                )
                try await connection.query(
                    "DELETE FROM messages WHERE id = ANY(\(bodies)) AND refs = 0",
                    logger: logger
                )
            }
            self.state.withLockedValue { $0.lastStamp = .now }
        } catch MailStoreError.takenOver {
            self.markLost()
            throw MailStoreError.takenOver
        } catch {
            throw PostgresMailStore.storeError(error)
        }
    }

    /// Calls `handler` once when a login on any node takes this silent session's maildrop over
    /// (found by the store's ``TakeoverWatch`` within `min(takeover_after, 2 s)`); at once if
    /// that is already known. Not after `close()`, nor for a takeover that a stamp or the commit
    /// found (their caller learns it from the throw).
    func whenTakenOver(_ handler: @escaping @Sendable () -> Void) {
        let lostAlready: Bool = self.state.withLockedValue { state in
            switch state.status {
            case .lost:
                return true
            case .closed:
                return false
            case .held:
                // Registered under the lock, so a close() that follows always unregisters it.
                self.store.takeovers.watch(
                    ObjectIdentifier(self),
                    mailboxID: self.mailboxID,
                    generation: self.generation
                ) { [weak self] in
                    guard let self, self.markLost() else { return }
                    handler()
                }
                return false
            }
        }
        if lostAlready { handler() }
    }

    func close() async {
        let wasHeld = self.state.withLockedValue { state in
            defer { state.status = .closed }
            return state.status == .held
        }
        self.store.takeovers.stopWatching(ObjectIdentifier(self))
        if wasHeld {
            await self.store.releaseLease(mailboxID: self.mailboxID, generation: self.generation)
        }
    }

    // MARK: - The lease

    /// Throws when the lease is lost or the maildrop closed; says whether a stamp is due.
    private func stampIsDue() throws -> Bool {
        let interval = self.store.timing.stampInterval
        return try self.state.withLockedValue { state in
            try Self.check(state.status)
            return ContinuousClock.now - state.lastStamp >= interval
        }
    }

    private func checkHeld() throws {
        try self.state.withLockedValue { try Self.check($0.status) }
    }

    private static func check(_ status: Status) throws {
        switch status {
        case .held: return
        case .lost: throw MailStoreError.takenOver
        case .closed: throw MailStoreError.io("maildrop is closed")
        }
    }

    /// Renews the lease row if it still has this session's generation (an expired row nobody
    /// took is simply renewed, as a released lease is taken back on one host).
    private func stamp() async throws {
        let started = ContinuousClock.now
        let renewed: [PostgresRow]
        do {
            renewed = try await self.store.database.rows(
                """
                UPDATE mailboxes SET lease_activity = now(),
                    lease_expires = now() + \(self.store.timing.expiryMicroseconds) * interval '1 microsecond'
                WHERE id = \(self.mailboxID) AND lease_generation = \(self.generation)
                RETURNING id
                """
            )
        } catch {
            throw PostgresMailStore.storeError(error)
        }
        guard !renewed.isEmpty else {
            self.markLost()
            throw MailStoreError.takenOver
        }
        self.state.withLockedValue { state in
            state.lastStamp = max(state.lastStamp, started)
            state.stamps += 1
        }
    }

    /// Marks the lease lost; says whether it was held until now.
    @discardableResult
    private func markLost() -> Bool {
        self.state.withLockedValue { state in
            guard state.status == .held else { return false }
            state.status = .lost
            return true
        }
    }

    private func entry(at index: Int) throws -> Int64 {
        guard self.entries.indices.contains(index) else {
            throw MailStoreError.io("no message \(index + 1) in this maildrop")
        }
        return self.entries[index]
    }
}
