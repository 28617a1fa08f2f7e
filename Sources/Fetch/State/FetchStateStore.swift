// The per-account state in SQLite (GRDB): one row per unique id.
import GRDB
public import MailCore

/// The state as the planner reads it (`FetchStateStore.snapshot()`).
public struct FetchStateSnapshot: Hashable, Sendable {
    /// Every entry, keyed by unique id.
    public var entries: [UniqueID: FetchStateEntry]
    /// Unique ids handed to a delivery command by a run that ended before recording whether the
    /// command accepted them: the command may already have delivered them.
    public var unconfirmedHandOvers: Set<UniqueID>

    public init(entries: [UniqueID: FetchStateEntry], unconfirmedHandOvers: Set<UniqueID> = []) {
        self.entries = entries
        self.unconfirmedHandOvers = unconfirmedHandOvers
    }
}

/// The durable record of what was downloaded for one account, keyed by unique id.
///
/// Durability: SQLite in WAL mode with `synchronous=FULL`. In WAL mode `FULL` syncs the WAL at
/// every commit, so once `record(_:)` returns the row survives a crash *and* a power loss. That
/// is what the executor needs: it sends `DELE` only after `record(_:)` returned (invariant 1).
/// `NORMAL` would only survive a process crash; the cost of `FULL` (one fsync per message) is
/// small next to the fsyncs of storing the message itself.
///
/// Every write is one transaction, so a crash leaves either the old row or the new one.
public final class FetchStateStore: Sendable {
    private let database: DatabaseQueue
    /// The state file.
    public let path: String

    /// Opens (creating if needed) the state at `path`.
    ///
    /// - Parameter account: an identity of the account (e.g. `user@host`). The first open records
    ///   it; opening with another identity throws, since local names derive from it.
    public init(path: String, account: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(5)
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
            // After GRDB enabled WAL (it sets NORMAL then). A DatabaseQueue has one connection.
            try database.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            try Self.migrator.migrate(database)
            try database.write { db in
                if let recorded = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'account'") {
                    guard recorded == account else {
                        throw FetchFailure(
                            kind: .configuration,
                            message: "the state file \(path) belongs to account \(recorded), not \(account)"
                        )
                    }
                } else {
                    try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('account', ?)", arguments: [account])
                }
            }
        } catch let failure as FetchFailure {
            throw failure
        } catch let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode) {
            // Another program holds the database past the busy timeout: temporary (exit 75), so
            // a timer or a script tries again later rather than treating the disk as broken.
            let reason = error.message ?? "database is locked"
            throw FetchFailure(
                kind: .locked,
                message: "the state file \(path) is locked by another program (\(reason)); try again later"
            )
        } catch {
            throw FetchFailure(kind: .localWrite, message: "cannot open the state file \(path): \(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE message (
                        uidl TEXT PRIMARY KEY NOT NULL,
                        size INTEGER,
                        first_downloaded INTEGER NOT NULL,
                        location TEXT NOT NULL,
                        status TEXT NOT NULL,
                        headers_only INTEGER NOT NULL DEFAULT 0,
                        generation INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                    """
            )
        }
        // Short copies (never count as stored for deletion) and hand-overs to a delivery
        // command that may have succeeded without being recorded.
        migrator.registerMigration("v2") { db in
            try db.execute(
                sql: """
                    ALTER TABLE message ADD COLUMN short_copy INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE hand_over (
                        uidl TEXT PRIMARY KEY NOT NULL,
                        generation INTEGER NOT NULL,
                        started INTEGER NOT NULL
                    );
                    """
            )
        }
        return migrator
    }

    /// Every entry, keyed by unique id.
    public func entries() throws -> [UniqueID: FetchStateEntry] {
        try snapshot().entries
    }

    /// What the planner needs from the state, read in one transaction: every entry, and the
    /// unique ids handed to a delivery command whose outcome was never recorded.
    public func snapshot() throws -> FetchStateSnapshot {
        try wrap {
            try database.read { db in
                var entries: [UniqueID: FetchStateEntry] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT * FROM message") {
                    guard let entry = Self.entry(row) else { continue }
                    entries[entry.uniqueID] = entry
                }
                let handOvers = try String.fetchAll(db, sql: "SELECT uidl FROM hand_over").compactMap(UniqueID.init)
                return FetchStateSnapshot(entries: entries, unconfirmedHandOvers: Set(handOvers))
            }
        }
    }

    /// Records, durably, that the message is about to be handed to a delivery command (an MDA),
    /// which cannot be asked afterwards whether it has it. Until `record(_:)` (or
    /// `abandonHandOver(of:)`) clears it, a rerun knows the command may already have the message.
    public func recordHandOver(of uniqueID: UniqueID, generation: Int, at time: Int64) throws {
        try wrap {
            try database.write { db in
                try db.execute(
                    sql: "INSERT OR REPLACE INTO hand_over (uidl, generation, started) VALUES (?, ?, ?)",
                    arguments: [uniqueID.rawValue, generation, time]
                )
            }
        }
    }

    /// The command refused the message: it does not have it.
    public func abandonHandOver(of uniqueID: UniqueID) throws {
        try wrap {
            try database.write { db in
                try db.execute(sql: "DELETE FROM hand_over WHERE uidl = ?", arguments: [uniqueID.rawValue])
            }
        }
    }

    /// The entry of one unique id.
    public func entry(for uniqueID: UniqueID) throws -> FetchStateEntry? {
        try wrap {
            try database.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM message WHERE uidl = ?", arguments: [uniqueID.rawValue])
                    .flatMap(
                        Self.entry
                    )
            }
        }
    }

    /// Inserts or replaces entries, all in one durable transaction; a hand-over of the same
    /// unique id is settled by it.
    public func record(_ entries: [FetchStateEntry]) throws {
        try wrap {
            try database.write { db in
                let insert = try db.cachedStatement(
                    sql: """
                        INSERT OR REPLACE INTO message
                            (uidl, size, first_downloaded, location, status, headers_only, generation, short_copy)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """
                )
                let settle = try db.cachedStatement(sql: "DELETE FROM hand_over WHERE uidl = ?")
                for entry in entries {
                    try insert.execute(arguments: [
                        entry.uniqueID.rawValue, entry.size, entry.firstDownloaded, entry.location,
                        entry.status.rawValue, entry.headersOnly, entry.generation, entry.shortCopy,
                    ])
                    try settle.execute(arguments: [entry.uniqueID.rawValue])
                }
            }
        }
    }

    /// Inserts or replaces one entry in one durable transaction.
    public func record(_ entry: FetchStateEntry) throws {
        try record([entry])
    }

    /// Inserts entries whose unique id is not yet known (importers, `--mark-seen`); returns how
    /// many were new.
    @discardableResult
    public func recordIfAbsent(_ entries: [FetchStateEntry]) throws -> Int {
        try wrap {
            try database.write { db in
                var inserted = 0
                for entry in entries {
                    try db.execute(
                        sql: """
                            INSERT OR IGNORE INTO message
                                (uidl, size, first_downloaded, location, status, headers_only, generation)
                            VALUES (?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            entry.uniqueID.rawValue, entry.size, entry.firstDownloaded, entry.location,
                            entry.status.rawValue, entry.headersOnly, entry.generation,
                        ]
                    )
                    inserted += db.changesCount
                }
                return inserted
            }
        }
    }

    /// Sets the status of these unique ids (after a confirmed `QUIT`, or when they vanished).
    public func setStatus(_ status: FetchStateEntry.Status, for uniqueIDs: [UniqueID]) throws {
        guard !uniqueIDs.isEmpty else { return }
        try wrap {
            try database.write { db in
                let update = try db.cachedStatement(sql: "UPDATE message SET status = ? WHERE uidl = ?")
                for uniqueID in uniqueIDs {
                    try update.execute(arguments: [status.rawValue, uniqueID.rawValue])
                }
            }
        }
    }

    /// Forgets hand-overs of messages the server no longer lists (after a confirmed `QUIT`):
    /// nothing is left to deliver again.
    public func dropHandOvers(of uniqueIDs: [UniqueID]) throws {
        guard !uniqueIDs.isEmpty else { return }
        try wrap {
            try database.write { db in
                let delete = try db.cachedStatement(sql: "DELETE FROM hand_over WHERE uidl = ?")
                for uniqueID in uniqueIDs {
                    try delete.execute(arguments: [uniqueID.rawValue])
                }
            }
        }
    }

    /// The value of a pragma on the store's connection (for tests and diagnostics).
    func pragma(_ name: String) throws -> String {
        try wrap {
            try database.read { db in
                let value = try DatabaseValue.fetchOne(db, sql: "PRAGMA \(name)") ?? .null
                switch value.storage {
                case .int64(let number): return "\(number)"
                case .string(let text): return text
                default: return "\(value)"
                }
            }
        }
    }

    /// The entry of a row; `nil` for a row whose id breaks RFC 1939 §7 (only a hand-edited state
    /// has one): no server can list it, so it matches no message.
    private static func entry(_ row: Row) -> FetchStateEntry? {
        guard let uniqueID = UniqueID(row["uidl"] as String) else { return nil }
        return FetchStateEntry(
            uniqueID: uniqueID,
            size: row["size"],
            firstDownloaded: row["first_downloaded"],
            location: row["location"],
            status: FetchStateEntry.Status(rawValue: row["status"]) ?? .stored,
            headersOnly: row["headers_only"],
            generation: row["generation"],
            shortCopy: row["short_copy"]
        )
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let failure as FetchFailure {
            throw failure
        } catch {
            throw FetchFailure(kind: .localWrite, message: "state file \(path): \(error)")
        }
    }
}
