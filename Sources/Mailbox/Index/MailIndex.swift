import GRDB

/// The SQLite full-text index beside a store. It holds nothing the store does not: delete it
/// and it is rebuilt.
final class MailIndex {
    /// Bump when the schema or the extracted data change; an old index is then rebuilt.
    /// 6: rebuilt once so that every message is seen again and its digest recorded (first sight).
    static let schemaVersion = 6

    let database: DatabaseQueue
    let path: String

    init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Fewer read(2) calls when a directory is compared with 100,000 rows.
            try db.execute(sql: "PRAGMA mmap_size = 268435456")
        }
        database = try DatabaseQueue(path: path, configuration: configuration)
        try database.write { db in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            if version != Self.schemaVersion {
                for table in ["message_text", "message", "directory", "meta"] {
                    try db.execute(sql: "DROP TABLE IF EXISTS \(table)")
                }
                try Self.createSchema(db)
                try db.execute(sql: "PRAGMA user_version = \(Self.schemaVersion)")
            }
        }
    }

    private static func createSchema(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE message (
                    id INTEGER PRIMARY KEY,
                    digest TEXT NOT NULL UNIQUE,
                    short_id TEXT NOT NULL,
                    folder TEXT NOT NULL,
                    subdirectory TEXT NOT NULL,
                    file_name TEXT NOT NULL,
                    mbox_offset INTEGER NOT NULL,
                    mbox_length INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    date INTEGER NOT NULL,
                    sender_list TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    recipients TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    attachments TEXT NOT NULL,
                    attachment_count INTEGER NOT NULL,
                    defect_count INTEGER NOT NULL
                );
                CREATE INDEX message_date ON message(date, id);
                -- Covering: comparing a directory listing with the index reads only this index.
                CREATE INDEX message_location ON message(folder, subdirectory, file_name, size, digest);
                CREATE INDEX message_with_attachments ON message(date, id) WHERE attachment_count > 0;
                CREATE VIRTUAL TABLE message_text USING fts5(
                    sender, recipients, subject, body, attachments,
                    tokenize = 'unicode61 remove_diacritics 2'
                );
                CREATE TABLE directory (path TEXT PRIMARY KEY, mtime INTEGER NOT NULL);
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                """
        )
    }

    // MARK: Writing

    static let summaryColumns =
        "short_id, digest, folder, date, sender_list, sender, recipients, subject, size, attachments, subdirectory, file_name, mbox_offset, mbox_length"

    /// Inserts records whose digest is not indexed yet; returns how many were inserted.
    @discardableResult
    func insert(_ records: [MessageRecord], in db: Database) throws -> Int {
        let insertMessage = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO message (digest, short_id, folder, subdirectory, file_name, mbox_offset, mbox_length,
                    size, date, sender_list, sender, recipients, subject, attachments, attachment_count, defect_count)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        )
        let insertText = try db.cachedStatement(
            sql:
                "INSERT INTO message_text (rowid, sender, recipients, subject, body, attachments) VALUES (?, ?, ?, ?, ?, ?)"
        )
        var inserted = 0
        for record in records {
            let (subdirectory, fileName, offset, length) = record.location.columns
            try insertMessage.execute(arguments: [
                record.digest, String(record.digest.prefix(8)), record.folder, subdirectory, fileName, offset, length,
                record.size, record.date, record.from, record.sender, record.to, record.subject,
                JSONList.encode(record.attachments), record.attachments.count, record.defectCount,
            ])
            guard db.changesCount > 0 else { continue }
            inserted += 1
            try insertText.execute(arguments: [
                db.lastInsertedRowID, record.from, record.to, record.subject, record.bodyText,
                record.attachments.joined(separator: " "),
            ])
        }
        return inserted
    }

    func delete(ids: [Int64], in db: Database) throws {
        let deleteMessage = try db.cachedStatement(sql: "DELETE FROM message WHERE id = ?")
        let deleteText = try db.cachedStatement(sql: "DELETE FROM message_text WHERE rowid = ?")
        for id in ids {
            try deleteMessage.execute(arguments: [id])
            try deleteText.execute(arguments: [id])
        }
    }

    /// Deletes everything, keeping the schema (for `mail reindex`).
    func clear() throws {
        try database.write { db in
            try db.execute(
                sql: "DELETE FROM message; DELETE FROM message_text; DELETE FROM directory; DELETE FROM meta"
            )
        }
    }

    // MARK: Short IDs

    /// Makes every short ID the shortest unique digest prefix of at least 8 characters.
    /// With few changes only the neighbours (in digest order) of the changed digests are
    /// looked at; otherwise one pass over all digests.
    func updateShortIDs(changed: [String], in db: Database) throws {
        if changed.isEmpty { return }
        let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message") ?? 0
        if changed.count * 20 > total {
            let rows = try Row.fetchAll(db, sql: "SELECT id, digest, short_id FROM message ORDER BY digest")
            let digests: [String] = rows.map { $0["digest"] }
            let update = try db.cachedStatement(sql: "UPDATE message SET short_id = ? WHERE id = ?")
            for (index, row) in rows.enumerated() {
                let wanted = ShortID.make(
                    digests[index],
                    previous: index > 0 ? digests[index - 1] : nil,
                    next: index + 1 < digests.count ? digests[index + 1] : nil
                )
                if wanted != (row[2] as String) {
                    try update.execute(arguments: [wanted, row[0] as Int64])
                }
            }
            return
        }
        var affected = Set<String>()
        for digest in changed {
            if try Int.fetchOne(db, sql: "SELECT 1 FROM message WHERE digest = ?", arguments: [digest]) != nil {
                affected.insert(digest)
            }
            if let previous = try neighbour(of: digest, before: true, db) { affected.insert(previous) }
            if let next = try neighbour(of: digest, before: false, db) { affected.insert(next) }
        }
        for digest in affected {
            let wanted = ShortID.make(
                digest,
                previous: try neighbour(of: digest, before: true, db),
                next: try neighbour(of: digest, before: false, db)
            )
            try db.execute(
                sql: "UPDATE message SET short_id = ? WHERE digest = ? AND short_id <> ?",
                arguments: [wanted, digest, wanted]
            )
        }
    }

    private func neighbour(of digest: String, before: Bool, _ db: Database) throws -> String? {
        let sql =
            before
            ? "SELECT digest FROM message WHERE digest < ? ORDER BY digest DESC LIMIT 1"
            : "SELECT digest FROM message WHERE digest > ? ORDER BY digest ASC LIMIT 1"
        return try String.fetchOne(db, sql: sql, arguments: [digest])
    }

    // MARK: Reading

    func summaries(
        _ db: Database,
        where condition: String,
        arguments: StatementArguments,
        order: String = "date DESC, id DESC",
        limit: Int?
    ) throws -> [MessageSummary] {
        var sql = "SELECT \(Self.summaryColumns) FROM message WHERE \(condition) ORDER BY \(order)"
        if let limit { sql += " LIMIT \(max(0, limit))" }
        return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.summary)
    }

    static func summary(_ row: Row) -> MessageSummary {
        // Positions as in `summaryColumns`.
        let subdirectory: String = row[10]
        let location: MessageLocation =
            subdirectory.isEmpty
            ? .mbox(offset: row[12], length: row[13])
            : .maildir(folder: row[2], subdirectory: subdirectory, fileName: row[11])
        return MessageSummary(
            id: row[0],
            digest: row[1],
            folder: row[2],
            date: row[3],
            from: row[4],
            sender: row[5],
            to: row[6],
            subject: row[7],
            size: row[8],
            attachments: JSONList.decode(row[9]),
            location: location
        )
    }

    /// The message whose digest starts with `prefix` (at least 4 hex digits).
    func resolve(_ input: String) throws -> MessageSummary {
        let prefix = input.lowercased()
        guard prefix.count >= 4, prefix.count <= 64, prefix.allSatisfy(\.isHexDigit) else {
            throw MailboxError.unknownID(input)
        }
        let upper = prefix + "g"
        let matches = try database.read { db in
            try summaries(
                db,
                where: "digest >= ? AND digest < ?",
                arguments: [prefix, upper],
                order: "digest",
                limit: 6
            )
        }
        if matches.isEmpty { throw MailboxError.unknownID(input) }
        if matches.count > 1 { throw MailboxError.ambiguousID(input, candidates: matches.map(\.id)) }
        return matches[0]
    }
}

extension MessageLocation {
    var columns: (String, String, Int, Int) {
        switch self {
        case .maildir(_, let subdirectory, let fileName): return (subdirectory, fileName, 0, 0)
        case .mbox(let offset, let length): return ("", "", offset, length)
        }
    }
}

/// Short, typeable message IDs.
enum ShortID {
    static let minimumLength = 8

    /// The shortest prefix of `digest` (at least 8) that differs from both neighbours'.
    static func make(_ digest: String, previous: String?, next: String?) -> String {
        let shared = max(commonPrefix(digest, previous), commonPrefix(digest, next))
        return String(digest.prefix(max(minimumLength, shared + 1)))
    }

    private static func commonPrefix(_ lhs: String, _ rhs: String?) -> Int {
        guard let rhs else { return 0 }
        var count = 0
        for (left, right) in zip(lhs.utf8, rhs.utf8) {
            guard left == right else { break }
            count += 1
        }
        return count
    }
}

/// Attachment name lists stored as JSON arrays of strings.
enum JSONList {
    static func encode(_ items: [String]) -> String {
        "[" + items.map(JSONText.quoted).joined(separator: ",") + "]"
    }

    static func decode(_ text: String) -> [String] {
        JSONText.decodeStringArray(text) ?? []
    }
}
