import Accounts
import FileIO
// Copying mail in from another store (`postoffice migrate`), keeping each message's UIDL.
public import MailCore
import MailStore
import NIOCore
import PostgresNIO

extension PostgresMailStore {
    /// The names of the mailboxes in the database, sorted.
    public func mailboxNames() async throws -> [String] {
        do {
            return try await database.rows("SELECT name FROM mailboxes ORDER BY name").map {
                try $0.decode(String.self)
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// The UIDL and attributes of each message in `user`'s maildrop now, read without taking
    /// its lease: the Maildir flags it came with (`nil` for mail not seen by a reader) and its
    /// delivery time.
    public func attributes(user: String) async throws -> [UniqueID: MessageAttributes] {
        guard UserName.isValid(user) else { throw MailStoreError.noSuchUser(user) }
        do {
            let rows = try await database.rows(
                """
                SELECT mm.uidl, mm.maildir_flags, extract(epoch FROM mm.delivered_at)::bigint
                FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id
                WHERE m.name = \(user)
                """
            )
            var attributes: [UniqueID: MessageAttributes] = [:]
            attributes.reserveCapacity(rows.count)
            for row in rows {
                let (uidl, flags, delivered) = try row.decode((String, String?, Int64).self)
                // The column's CHECK constraint holds the ids to RFC 1939 §7.
                attributes[UniqueID(unchecked: uidl)] = MessageAttributes(
                    maildirFlags: flags,
                    deliveredAt: Int(delivered)
                )
            }
            return attributes
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Stores `messages` in `user`'s maildrop, each under the UIDL it had elsewhere and with its
    /// attributes, in one transaction (one commit, so one WAL flush, for the whole batch),
    /// leaving out those whose UIDL the maildrop already has (a migration run again after an
    /// interruption). Returns how many it stored. Bodies are shared with identical mail as a
    /// delivery's are.
    public func importMessages(user: String, _ messages: [MigratedMessage]) async throws -> Int {
        guard UserName.isValid(user) else { throw MailStoreError.noSuchUser(user) }
        guard !messages.isEmpty else { return 0 }
        struct Prepared: Sendable {
            var uniqueID: String
            var prefix: ByteBuffer
            var chunks: WireChunks
            var digest: BodyDigest
            var attributes: MessageAttributes
        }
        let prepared = try await BlockingIO.run {
            messages.map { message in
                let split = Self.recipientLinesEnd(message.message)
                let chunks = WireChunks(Array(message.message[split...]), size: Self.chunkSize)
                return Prepared(
                    uniqueID: message.uniqueID.rawValue,
                    prefix: WireForm.of(message.message[..<split]),
                    chunks: chunks,
                    digest: Self.digest(of: chunks),
                    attributes: message.attributes
                )
            }
        }
        let logger = database.logger
        do {
            let mailboxID = try await self.mailboxID(for: user)
            return try await database.transaction { connection in
                // Serialises imports into one maildrop, so the check below and the inserts agree.
                try await connection.query("SELECT 1 FROM mailboxes WHERE id = \(mailboxID) FOR UPDATE", logger: logger)
                let present = try await Set(
                    connection.query(
                        """
                        SELECT uidl FROM mailbox_messages
                        WHERE mailbox_id = \(mailboxID) AND uidl = ANY(\(prepared.map(\.uniqueID)))
                        """,
                        logger: logger
                    ).collect().map { try $0.decode(String.self) }
                )
                var stored = Set<String>()
                for message in prepared where !present.contains(message.uniqueID) && !stored.contains(message.uniqueID)
                {
                    let messageID = try await Self.storeBody(
                        message.chunks,
                        digest: message.digest,
                        on: connection,
                        logger: logger
                    )
                    _ = try await Self.insertEntry(
                        mailboxID: mailboxID,
                        messageID: messageID,
                        size: message.prefix.readableBytes + message.digest.size,
                        prefix: message.prefix,
                        uidl: message.uniqueID,
                        maildirFlags: message.attributes.maildirFlags,
                        deliveredAt: message.attributes.deliveredAt,
                        on: connection,
                        logger: logger
                    )
                    stored.insert(message.uniqueID)
                }
                return stored.count
            }
        } catch {
            throw Self.storeError(error)
        }
    }
}
