import Crypto
import FileIO
import GRDB
import MailStore
import SystemPackage

/// What a synchronisation changed.
public struct SyncReport: Sendable, Equatable {
    /// Messages parsed and added to the index.
    public var added = 0
    /// Messages whose file moved or was renamed (flags) without changing.
    public var moved = 0
    /// Messages removed from the index because their file is gone.
    public var removed = 0
    /// Files that could not be read (they are skipped, and retried next time).
    public var unreadable: [String] = []
    /// SHA-256 digests added to a manifest because the index saw these messages for the first
    /// time (`mail verify` then detects later changes to them).
    public var digestsRecorded = 0

    public init() {}
}

extension MailIndex {
    /// A directory whose modification time is this close to now is listed again next time:
    /// a change within the same clock tick would not move its mtime.
    static let racyInterval: Int64 = 2_000_000_000

    /// Brings the index in line with a Maildir: lists `new/` and `cur/` of the root and each
    /// Maildir++ folder whose mtime changed since the last listing (all of them with
    /// `force`), and compares names and sizes with the index.
    func synchronizeMaildir(root: String, force: Bool) throws -> SyncReport {
        let startedAt = FileTime.now().totalNanoseconds
        var report = SyncReport()
        let trusted: [String: Int64] = try database.read { db in
            var result: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT path, mtime FROM directory") {
                result[row["path"]] = row["mtime"]
            }
            return result
        }
        let indexedFolders: Set<String> = try database.read { db in
            // One index seek per folder, not a scan of every message.
            var folders = Set<String>()
            var next = try String.fetchOne(db, sql: "SELECT MIN(folder) FROM message")
            while let folder = next, folders.count < 10_000 {
                folders.insert(folder)
                next = try String.fetchOne(
                    db,
                    sql: "SELECT MIN(folder) FROM message WHERE folder > ?",
                    arguments: [folder]
                )
            }
            return folders
        }
        let folders = MaildirFolder.all(root: root)

        struct Listing {
            var folder: String
            var subdirectory: MaildirSubdirectory
            var path: FilePath
            var mtime: Int64?
            var names: [MaildirFilename]
        }
        var listings: [Listing] = []
        for folder in Set(folders).union(indexedFolders).sorted() {
            let maildir = MaildirFolder.maildir(root: root, folder: folder)
            for subdirectory in MaildirSubdirectory.allCases {
                let directory = maildir.path(of: subdirectory)
                let key = folder + "/" + subdirectory.rawValue
                guard let status = try? FileSystem.status(directory), status.isDirectory else {
                    listings.append(
                        Listing(folder: folder, subdirectory: subdirectory, path: directory, mtime: nil, names: [])
                    )
                    continue
                }
                let mtime = status.modification.totalNanoseconds
                if !force, trusted[key] == mtime { continue }
                listings.append(
                    Listing(
                        folder: folder,
                        subdirectory: subdirectory,
                        path: directory,
                        mtime: mtime,
                        names: try maildir.messages(in: subdirectory)
                    )
                )
            }
        }
        if listings.isEmpty { return report }

        // Compare each listed directory with the index: names, then sizes. A size in the
        // name (`,S=`, as Dovecot writes) that equals the indexed size saves the stat.
        struct Candidate: Sendable {
            var folder: String
            var subdirectory: MaildirSubdirectory
            var name: MaildirFilename
            var status: FileStatus
            var digest: String
            var fileName: String { name.description }
        }
        var gone: [String: (id: Int64, size: Int)] = [:]
        var candidates: [Candidate] = []
        try database.read { db in
            for listing in listings {
                let rows = try Row.fetchAll(
                    db,
                    sql: "SELECT id, digest, file_name, size FROM message WHERE folder = ? AND subdirectory = ?",
                    arguments: [listing.folder, listing.subdirectory.rawValue]
                )
                var indexed: [String: (Int64, String, Int)] = [:]
                indexed.reserveCapacity(rows.count)
                // Positional columns: named lookups cost more than the rest of the comparison.
                for row in rows { indexed[row[2]] = (row[0], row[1], row[3]) }
                let directory = try? Directory.open(listing.path)
                defer { directory?.close() }
                for name in listing.names {
                    let fileName = name.description
                    let existing = indexed[fileName]
                    // A size in the name (`,S=`, as Dovecot writes) equal to the indexed size
                    // saves the stat.
                    if let existing, name.size == existing.2 {
                        indexed[fileName] = nil
                        continue
                    }
                    guard let directory, let status = try? directory.status(of: name.bytes), status.isRegularFile
                    else { continue }
                    if let existing, existing.2 == status.size {
                        indexed[fileName] = nil
                        continue
                    }
                    let uniqueName = String(decoding: name.baseName, as: UTF8.self)
                    let key = MaildirFolder.digestKey(folder: listing.folder, uniqueName: uniqueName)
                    candidates.append(
                        Candidate(
                            folder: listing.folder,
                            subdirectory: listing.subdirectory,
                            name: name,
                            status: status,
                            digest: Self.sha256Hex(Array(key.utf8))
                        )
                    )
                }
                for (_, value) in indexed { gone[value.1] = (value.0, value.2) }
            }
        }

        var moves: [(id: Int64, candidate: Candidate)] = []
        var toParse: [Candidate] = []
        for candidate in candidates {
            if let previous = gone[candidate.digest], previous.size == candidate.status.size {
                moves.append((previous.id, candidate))
                gone[candidate.digest] = nil
            } else {
                toParse.append(candidate)
            }
        }
        var changedDigests: [String] = []
        try database.write { db in
            let removedIDs = gone.values.map(\.id)
            try delete(ids: removedIDs, in: db)
            changedDigests.append(contentsOf: gone.keys)
            report.removed = removedIDs.count
            for move in moves {
                try db.execute(
                    sql: "UPDATE message SET folder = ?, subdirectory = ?, file_name = ? WHERE id = ?",
                    arguments: [
                        move.candidate.folder, move.candidate.subdirectory.rawValue, move.candidate.fileName, move.id,
                    ]
                )
            }
            report.moved = moves.count
        }

        // Read and parse new files in batches on the parsing pool, insert each batch in one
        // transaction. Each file's SHA-256 goes to its folder's manifest the first time the
        // index sees it.
        let batchSize = 512
        var start = 0
        var firstSight = FirstSightDigests()
        while start < toParse.count {
            let batch = Array(toParse[start..<min(toParse.count, start + batchSize)])
            start += batchSize
            let results = Self.parsingPool.concurrentMap(batch) {
                candidate -> (record: MessageRecord, sha256: String)? in
                let maildir = MaildirFolder.maildir(root: root, folder: candidate.folder)
                let path = maildir.path(of: MaildirLocation(subdirectory: candidate.subdirectory, name: candidate.name))
                guard let bytes = try? FileSystem.readFile(path) else { return nil }
                let record = MessageRecord(
                    digest: candidate.digest,
                    folder: candidate.folder,
                    location: .maildir(
                        folder: candidate.folder,
                        subdirectory: candidate.subdirectory.rawValue,
                        fileName: candidate.fileName
                    ),
                    bytes: bytes,
                    fallbackDate: Int64(candidate.status.modification.seconds)
                )
                return (record, Self.sha256Hex(bytes))
            }
            var records: [MessageRecord] = []
            for (candidate, result) in zip(batch, results) {
                guard let result else {
                    report.unreadable.append(candidate.fileName)
                    continue
                }
                records.append(result.record)
                firstSight.add(
                    manifest: MaildirFolder.maildir(root: root, folder: candidate.folder).root.appending(
                        Manifest.fileName
                    ),
                    name: String(decoding: candidate.name.baseName, as: UTF8.self),
                    sha256: result.sha256
                )
            }
            try database.write { db in
                // A digest already indexed under another name (a copy in new/ and cur/) is skipped.
                report.added += try insert(records, in: db)
                changedDigests.append(contentsOf: records.map(\.digest))
            }
        }
        // Best effort: a manifest that cannot be written leaves those messages "not in manifest",
        // which `mail verify` reports.
        report.digestsRecorded = (try? firstSight.record()) ?? 0

        try database.write { db in
            try updateShortIDs(changed: changedDigests, in: db)
            for listing in listings {
                let key = listing.folder + "/" + listing.subdirectory.rawValue
                if let mtime = listing.mtime, startedAt - mtime > Self.racyInterval, report.unreadable.isEmpty {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO directory (path, mtime) VALUES (?, ?)",
                        arguments: [key, mtime]
                    )
                } else {
                    try db.execute(sql: "DELETE FROM directory WHERE path = ?", arguments: [key])
                }
            }
        }
        return report
    }

    /// Indexes one file now (the fetch engine calls this after storing a message).
    func indexMaildirFile(root: String, reference: MaildirFileReference) throws {
        try indexMaildirFiles(root: root, references: [reference])
    }

    /// Indexes files now, in one transaction (the fetch engine stores messages in groups).
    func indexMaildirFiles(root: String, references: [MaildirFileReference]) throws {
        var records: [MessageRecord] = []
        for reference in references {
            guard let location = reference.locate(),
                let (bytes, status) = try FileSystem.readFileIfExists(reference.maildir.path(of: location))
            else {
                throw MailboxError.messageVanished(reference.fileName)
            }
            let digest = Self.sha256Hex(
                Array(MaildirFolder.digestKey(folder: reference.folder, uniqueName: reference.uniqueName).utf8)
            )
            records.append(
                MessageRecord(
                    digest: digest,
                    folder: reference.folder,
                    location: .maildir(
                        folder: reference.folder,
                        subdirectory: location.subdirectory.rawValue,
                        fileName: location.name.description
                    ),
                    bytes: bytes,
                    fallbackDate: Int64(status.modification.seconds)
                )
            )
        }
        try database.write { db in
            let find = try db.cachedStatement(sql: "SELECT id FROM message WHERE digest = ?")
            var replaced: [Int64] = []
            for record in records {
                if let id = try Int64.fetchOne(find, arguments: [record.digest]) { replaced.append(id) }
            }
            try delete(ids: replaced, in: db)
            try insert(records, in: db)
            try updateShortIDs(changed: records.map(\.digest), in: db)
        }
    }

    /// The threads that read and parse new messages in batches: a pool of their own, so
    /// indexing never holds up the file I/O hops of `BlockingIO`.
    static let parsingPool = BlockingThreadPool(threadCount: BlockingThreadPool.defaultThreadCount)

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        Bytes.hex(SHA256.hash(data: bytes))
    }
}
