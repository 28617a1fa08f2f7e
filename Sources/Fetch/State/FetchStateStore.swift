// The per-account state in SQLite (GRDB): one row per unique id.
import GRDB

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
        return migrator
    }

    /// Every entry, keyed by unique id.
    public func entries() throws -> [String: FetchStateEntry] {
        try wrap {
            try database.read { db in
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM message")
                var result: [String: FetchStateEntry] = [:]
                for row in rows {
                    let entry = Self.entry(row)
                    result[entry.uniqueID] = entry
                }
                return result
            }
        }
    }

    /// The entry of one unique id.
    public func entry(for uniqueID: String) throws -> FetchStateEntry? {
        try wrap {
            try database.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM message WHERE uidl = ?", arguments: [uniqueID]).map(Self.entry)
            }
        }
    }

    /// Inserts or replaces entries, all in one durable transaction.
    public func record(_ entries: [FetchStateEntry]) throws {
        try wrap {
            try database.write { db in
                for entry in entries {
                    try db.execute(
                        sql: """
                            INSERT OR REPLACE INTO message
                                (uidl, size, first_downloaded, location, status, headers_only, generation)
                            VALUES (?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            entry.uniqueID, entry.size, entry.firstDownloaded, entry.location,
                            entry.status.rawValue, entry.headersOnly, entry.generation,
                        ]
                    )
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
                            entry.uniqueID, entry.size, entry.firstDownloaded, entry.location,
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
    public func setStatus(_ status: FetchStateEntry.Status, for uniqueIDs: [String]) throws {
        guard !uniqueIDs.isEmpty else { return }
        try wrap {
            try database.write { db in
                for uniqueID in uniqueIDs {
                    try db.execute(
                        sql: "UPDATE message SET status = ? WHERE uidl = ?",
                        arguments: [status.rawValue, uniqueID]
                    )
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

    private static func entry(_ row: Row) -> FetchStateEntry {
        FetchStateEntry(
            uniqueID: row["uidl"],
            size: row["size"],
            firstDownloaded: row["first_downloaded"],
            location: row["location"],
            status: FetchStateEntry.Status(rawValue: row["status"]) ?? .stored,
            headersOnly: row["headers_only"],
            generation: row["generation"]
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
