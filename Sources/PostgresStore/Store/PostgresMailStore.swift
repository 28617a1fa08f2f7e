import Accounts
import Crypto
import FileIO
// The mail store in PostgreSQL: the same contract as the Maildir store, for many server nodes.
import MailCore
public import MailStore
import NIOCore
import PostgresNIO

/// A `MailStore` whose maildrops, messages and leases are rows in PostgreSQL, so any number of
/// `serve` nodes can serve the same users (see ``Schema`` for the tables).
///
/// - Messages are kept as POP3 sends them (``WireForm``: CRLF line ends, last line
///   terminated), so a message's size is its length and RETR needs no conversion. Bodies are
///   stored in pieces of ``chunkSize`` and read back a few pieces per statement: neither side
///   ever holds a whole large message for one read.
/// - A body is stored once however many maildrops hold it: it is found again by the SHA-256 of
///   its wire form and counted by reference. The lines a delivery adds for one recipient
///   (`Return-Path:`, `Delivered-To:`) are kept with that recipient's entry, not in the body.
/// - UIDLs: `P` and the entry's number for mail delivered here (never reused), or the UIDL the
///   message had where it was migrated from.
/// - Opening a maildrop takes its lease (``PostgresMaildrop``): `.inUse` while another live
///   session on any node holds it, a takeover once that session has been silent for
///   ``LeaseTiming/takeoverAfter``.
public struct PostgresMailStore: MailStore {
    /// Input bytes per stored piece of a body (a piece in wire form is at most twice that, plus 2).
    public static let chunkSize = 128 * 1024
    /// Pieces fetched by one statement while reading a message: 512 KiB at a time at most
    /// (twice that for a body of bare LFs) is held per reading session.
    static let chunksPerRead = 4
    /// Pieces written by one statement while storing a body.
    static let chunksPerWrite = 4

    public let database: MailDatabase
    public let timing: LeaseTiming
    /// This node's name in lease rows (`host:pid`), for people reading the table.
    public let node: String
    /// Tells this process's silent sessions of takeovers made on any node.
    let takeovers: TakeoverWatch

    /// A store in `database`, whose schema must be current (`postoffice db migrate`).
    /// - Parameters:
    ///   - takeoverAfter: silence after which a session's maildrop may be taken over.
    ///   - node: the name lease rows show for this process; `hostname:pid` by default.
    public init(database: MailDatabase, takeoverAfter: Duration = .seconds(60), node: String? = nil) {
        self.database = database
        self.timing = LeaseTiming(takeoverAfter: takeoverAfter)
        self.node = node ?? Self.defaultNodeName()
        self.takeovers = TakeoverWatch(database: database, takeoverAfter: takeoverAfter)
    }

    // MARK: - Maildrops

    /// Takes `user`'s lease and lists the maildrop: one statement for the lease, one index-only
    /// scan for the listing. A user without a mailbox row gets one (empty).
    public func openMaildrop(user: String) async throws -> any Maildrop {
        try await self.openPostgresMaildrop(user: user)
    }

    func openPostgresMaildrop(user: String) async throws -> PostgresMaildrop {
        guard UserName.isValid(user) else { throw MailStoreError.noSuchUser(user) }
        let session = Self.newSessionID()
        let lease = try await self.acquireLease(user: user, session: session)
        do {
            let rows = try await database.rows(Self.listing(mailboxID: lease.mailboxID))
            var entries: [Int64] = []
            var messages: [MaildropMessage] = []
            entries.reserveCapacity(rows.count)
            messages.reserveCapacity(rows.count)
            for row in rows {
                let (id, uidl, size, arrival) = try row.decode((Int64, String, Int64, Int64).self)
                entries.append(id)
                // The column's CHECK constraint holds the ids to RFC 1939 §7.
                messages.append(
                    MaildropMessage(uniqueID: UniqueID(unchecked: uidl), size: Int(size), arrival: Int(arrival))
                )
            }
            return PostgresMaildrop(
                store: self,
                mailboxID: lease.mailboxID,
                generation: lease.generation,
                entries: entries,
                messages: messages
            )
        } catch {
            await self.releaseLease(mailboxID: lease.mailboxID, generation: lease.generation)
            throw Self.storeError(error)
        }
    }

    /// A maildrop's listing, in delivery order: one index-only scan of
    /// `mailbox_messages_listing` (entry, UIDL, size and arrival, in seconds since 1970).
    static func listing(mailboxID: Int64) -> PostgresQuery {
        """
        SELECT id, uidl, size, extract(epoch FROM delivered_at)::bigint
        FROM mailbox_messages WHERE mailbox_id = \(mailboxID) ORDER BY id
        """
    }

    struct Lease: Sendable {
        var mailboxID: Int64
        var generation: Int64
    }

    /// How long a login waits for a lease held by another session before it answers
    /// `[IN-USE]`, in steps of ``inUseRetryStep``. A session's lease is given back in a database
    /// round trip after its QUIT was answered; a client that reconnects at once would otherwise
    /// meet its own previous session, which on one host releases its lock in microseconds.
    static let inUseRetries = 6
    static let inUseRetryStep = Duration.milliseconds(50)

    /// Takes the lease when it is free or expired (waiting up to ``inUseRetries`` steps while it
    /// is held), bumping its generation, which tells a silent holder that it was taken over.
    private func acquireLease(user: String, session: String) async throws -> Lease {
        for attempt in 0...Self.inUseRetries {
            do {
                return try await self.tryLease(user: user, session: session)
            } catch MailStoreError.inUse where attempt < Self.inUseRetries {
                try? await Task.sleep(for: Self.inUseRetryStep)
            }
        }
        throw MailStoreError.inUse
    }

    /// One attempt at the lease. A user seen for the first time gets a mailbox row.
    private func tryLease(user: String, session: String) async throws -> Lease {
        for _ in 0..<2 {
            let taken = try await database.rows(
                """
                UPDATE mailboxes SET lease_generation = lease_generation + 1, lease_node = \(node),
                    lease_session = \(session), lease_activity = now(),
                    lease_expires = now() + \(timing.expiryMicroseconds) * interval '1 microsecond'
                WHERE name = \(user) AND lease_expires < now()
                RETURNING id, lease_generation
                """
            )
            if let row = taken.first {
                let (id, generation) = try row.decode((Int64, Int64).self)
                return Lease(mailboxID: id, generation: generation)
            }
            let existing = try await database.rows("SELECT 1 FROM mailboxes WHERE name = \(user)")
            guard existing.isEmpty else { throw MailStoreError.inUse }
            try await database.rows("INSERT INTO mailboxes (name) VALUES (\(user)) ON CONFLICT (name) DO NOTHING")
        }
        throw MailStoreError.inUse
    }

    /// Gives the lease back (a new login then needs no wait). Nothing happens if it was taken over.
    func releaseLease(mailboxID: Int64, generation: Int64) async {
        do {
            try await database.rows(
                """
                UPDATE mailboxes SET lease_expires = '-infinity', lease_session = NULL, lease_node = NULL
                WHERE id = \(mailboxID) AND lease_generation = \(generation)
                """
            )
        } catch {
            database.logger.warning("releasing a maildrop lease failed: \(error)")
        }
    }

    // MARK: - Delivery

    /// Stores `message` for `user`; returns its UIDL. The `Return-Path:` and `Delivered-To:`
    /// lines a delivery puts on top for one recipient (LMTP, `deliver`) are kept with this
    /// recipient's entry, so the same message for several users is one stored body.
    public func deliver(user: String, message: [UInt8]) async throws -> String {
        let split = Self.recipientLinesEnd(message)
        return try await self.deliver(user: user, prefix: Array(message[..<split]), body: Array(message[split...]))
    }

    /// The header fields a final delivery adds for one recipient (RFC 5322 §3.6.7).
    static let recipientFieldNames = ["return-path:", "delivered-to:"]

    /// Where the leading `Return-Path:`/`Delivered-To:` lines of `message` end (with their
    /// folded continuation lines, RFC 5322 §2.2.3); 0 when it starts with neither.
    static func recipientLinesEnd(_ message: [UInt8]) -> Int {
        var end = 0
        var inField = false
        while end < message.count {
            guard let lineEnd = message[end...].firstIndex(of: UInt8(ascii: "\n")) else { break }
            let first = message[end]
            let continues = inField && (first == UInt8(ascii: " ") || first == UInt8(ascii: "\t"))
            let starts = recipientFieldNames.contains { name in
                message.count - end >= name.utf8.count
                    && zip(message[end...], name.utf8).allSatisfy { byte, expected in
                        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                            ? byte | 0x20 == expected : byte == expected
                    }
            }
            guard continues || starts else { break }
            inField = true
            end = lineEnd + 1
        }
        return end
    }

    /// Stores `prefix` (lines for this recipient alone, such as `Delivered-To:`) followed by
    /// `body` for `user`, in one transaction; returns the new message's UIDL. A body already
    /// stored (the same message for another recipient) is referenced, not stored again.
    public func deliver(user: String, prefix: [UInt8], body: [UInt8]) async throws -> String {
        guard UserName.isValid(user) else { throw MailStoreError.noSuchUser(user) }
        // A prefix that does not end a line would join the body's first line: store it whole.
        guard prefix.isEmpty || prefix.last == UInt8(ascii: "\n") else {
            return try await self.deliver(user: user, prefix: [], body: prefix + body)
        }
        let chunks = WireChunks(body, size: Self.chunkSize)
        let digest = try await BlockingIO.run { Self.digest(of: chunks) }
        let wirePrefix = WireForm.of(prefix)
        do {
            let mailboxID = try await self.mailboxID(for: user)
            return try await database.transaction { connection in
                let messageID = try await Self.storeBody(
                    chunks,
                    digest: digest,
                    on: connection,
                    logger: database.logger
                )
                return try await Self.insertEntry(
                    mailboxID: mailboxID,
                    messageID: messageID,
                    size: wirePrefix.readableBytes + digest.size,
                    prefix: wirePrefix,
                    on: connection,
                    logger: database.logger
                )
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    struct BodyDigest: Sendable {
        var sha256: [UInt8]
        var size: Int
    }

    static func digest(of chunks: WireChunks) -> BodyDigest {
        var hasher = SHA256()
        var size = 0
        for chunk in chunks {
            chunk.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            size += chunk.readableBytes
        }
        return BodyDigest(sha256: Array(hasher.finalize()), size: size)
    }

    /// The id of `user`'s mailbox, made if missing.
    func mailboxID(for user: String) async throws -> Int64 {
        for _ in 0..<2 {
            if let row = try await database.rows("SELECT id FROM mailboxes WHERE name = \(user)").first {
                return try row.decode(Int64.self)
            }
            let made = try await database.rows(
                "INSERT INTO mailboxes (name) VALUES (\(user)) ON CONFLICT (name) DO NOTHING RETURNING id"
            )
            if let row = made.first { return try row.decode(Int64.self) }
        }
        throw MailStoreError.io("the mailbox of \(user) could not be created")
    }

    /// Takes one more reference to the body with this digest, or stores it. Runs inside the
    /// delivery's transaction; a concurrent delivery of the same body waits for this one (the
    /// unique digest), then references it.
    static func storeBody(
        _ chunks: WireChunks,
        digest: BodyDigest,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Int64 {
        let hash = ByteBuffer(bytes: digest.sha256)
        for _ in 0..<3 {
            let referenced = try await connection.query(
                "UPDATE messages SET refs = refs + 1 WHERE sha256 = \(hash) RETURNING id",
                logger: logger
            ).collect()
            if let row = referenced.first { return try row.decode(Int64.self) }
            let inserted = try await connection.query(
                """
                INSERT INTO messages (sha256, size, chunk_count, refs)
                VALUES (\(hash), \(Int64(digest.size)), \(chunks.count), 1)
                ON CONFLICT (sha256) DO NOTHING RETURNING id
                """,
                logger: logger
            ).collect()
            guard let row = inserted.first else { continue }  // stored meanwhile: reference it
            let messageID = try row.decode(Int64.self)
            var sequence: [Int32] = []
            var pieces: [ByteBuffer] = []
            for (index, chunk) in chunks.enumerated() {
                sequence.append(Int32(index))
                pieces.append(chunk)
                if pieces.count == chunksPerWrite || index == chunks.count - 1 {
                    try await connection.query(
                        """
                        INSERT INTO message_chunks (message_id, seq, data)
                        SELECT \(messageID), seq, data FROM unnest(\(sequence)::integer[], \(pieces)::bytea[]) AS t(seq, data)
                        """,
                        logger: logger
                    )
                    sequence.removeAll(keepingCapacity: true)
                    pieces.removeAll(keepingCapacity: true)
                }
            }
            return messageID
        }
        throw MailStoreError.io("a message body could not be stored (it kept changing)")
    }

    /// Adds an entry for a stored body to a maildrop; returns its UIDL (`uidl`, or `P` and the
    /// entry's number). A migrated message keeps its Maildir flags and delivery time (seconds
    /// since 1970); new mail has no flags and is delivered now.
    static func insertEntry(
        mailboxID: Int64,
        messageID: Int64,
        size: Int,
        prefix: ByteBuffer,
        uidl: String? = nil,
        maildirFlags: String? = nil,
        deliveredAt: Int? = nil,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> String {
        let delivered = deliveredAt.map(Int64.init)
        // A UIDL brought in by a migration may look like one made here (`P7`): a new message
        // whose number is taken that way gets the next number instead.
        for _ in 0..<8 {
            let rows = try await connection.query(
                """
                INSERT INTO mailbox_messages (id, mailbox_id, message_id, uidl, size, prefix, maildir_flags, delivered_at)
                SELECT n.id, \(mailboxID), \(messageID), coalesce(\(uidl), 'P' || n.id), \(Int64(size)), \(prefix),
                    \(maildirFlags), coalesce(to_timestamp(\(delivered)::double precision), now())
                FROM (SELECT nextval(pg_get_serial_sequence('mailbox_messages', 'id')) AS id) AS n
                ON CONFLICT (mailbox_id, uidl) DO NOTHING
                RETURNING uidl
                """,
                logger: logger
            ).collect()
            if let row = rows.first { return try row.decode(String.self) }
            guard uidl == nil else { break }
        }
        throw MailStoreError.io("the new message was not recorded: its UIDL is taken")
    }

    // MARK: - Helpers

    /// Turns any failure into the store's errors: database trouble is temporary (`.io`).
    static func storeError(_ error: any Error) -> any Error {
        switch error {
        case is MailStoreError: return error
        case let failure as DatabaseFailure: return MailStoreError.io(failure.description)
        default: return MailStoreError.io(DatabaseFailure(error).description)
        }
    }

    static func newSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func defaultNodeName() -> String {
        "\(SystemIdentity.hostName()):\(SystemIdentity.processID)"
    }
}
