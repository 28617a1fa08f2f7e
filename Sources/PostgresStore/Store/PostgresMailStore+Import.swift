import Accounts
import FileIO
// Copying mail in from another store (`postoffice migrate`), keeping each message's UIDL.
import MailCore
import MailStore
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
    public func attributes(user: String) async throws -> [String: MessageAttributes] {
        guard UserName.isValid(user) else { throw MailStoreError.noSuchUser(user) }
        do {
            let rows = try await database.rows(
                """
                SELECT mm.uidl, mm.maildir_flags, extract(epoch FROM mm.delivered_at)::bigint
                FROM mailbox_messages mm JOIN mailboxes m ON m.id = mm.mailbox_id
                WHERE m.name = \(user)
                """
            )
            var attributes: [String: MessageAttributes] = [:]
            attributes.reserveCapacity(rows.count)
            for row in rows {
                let (uidl, flags, delivered) = try row.decode((String, String?, Int64).self)
                attributes[uidl] = MessageAttributes(maildirFlags: flags, deliveredAt: Int(delivered))
            }
            return attributes
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Stores `message` in `user`'s maildrop under the UIDL it had elsewhere, with its
    /// attributes, unless the maildrop already has that UIDL (a migration run again after an
    /// interruption). Returns whether it stored it. The body is shared with identical mail as a
    /// delivery's is.
    public func importMessage(
        user: String,
        uniqueID: String,
        message: [UInt8],
        attributes: MessageAttributes = MessageAttributes()
    ) async throws -> Bool {
        guard UserName.isValid(user) else { throw MailStoreError.noSuchUser(user) }
        guard Self.isValidUniqueID(uniqueID) else {
            throw MailStoreError.io("'\(uniqueID)' cannot be a UIDL (RFC 1939 §7: 1 to 70 characters in 0x21–0x7E)")
        }
        let split = Self.recipientLinesEnd(message)
        let prefix = WireForm.of(message[..<split])
        let chunks = WireChunks(Array(message[split...]), size: Self.chunkSize)
        let digest = try await BlockingIO.run { Self.digest(of: chunks) }
        let logger = database.logger
        do {
            let mailboxID = try await self.mailboxID(for: user)
            return try await database.transaction { connection in
                // Serialises imports into one maildrop, so the check below and the insert agree.
                try await connection.query("SELECT 1 FROM mailboxes WHERE id = \(mailboxID) FOR UPDATE", logger: logger)
                let present = try await connection.query(
                    "SELECT 1 FROM mailbox_messages WHERE mailbox_id = \(mailboxID) AND uidl = \(uniqueID)",
                    logger: logger
                ).collect()
                guard present.isEmpty else { return false }
                let messageID = try await Self.storeBody(chunks, digest: digest, on: connection, logger: logger)
                _ = try await Self.insertEntry(
                    mailboxID: mailboxID,
                    messageID: messageID,
                    size: prefix.readableBytes + digest.size,
                    prefix: prefix,
                    uidl: uniqueID,
                    maildirFlags: attributes.maildirFlags,
                    deliveredAt: attributes.deliveredAt,
                    on: connection,
                    logger: logger
                )
                return true
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// RFC 1939 §7: a unique-id is 1 to 70 characters in the range 0x21 to 0x7E.
    static func isValidUniqueID(_ text: String) -> Bool {
        (1...70).contains(text.utf8.count) && text.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }
}
