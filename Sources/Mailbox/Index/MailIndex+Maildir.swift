import Crypto
import Dispatch
import GRDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
        let startedAt = FileSystem.currentNanoseconds()
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
        let folders = Maildir.folders(root: root)

        struct Listing {
            var folder: String
            var subdirectory: String
            var path: String
            var mtime: Int64?
            var names: [String]
        }
        var listings: [Listing] = []
        for folder in Set(folders).union(indexedFolders).sorted() {
            for subdirectory in Maildir.mailSubdirectories {
                let directory = FileSystem.join(Maildir.path(root: root, folder: folder), subdirectory)
                let key = folder + "/" + subdirectory
                guard let status = FileSystem.status(directory), status.isDirectory else {
                    listings.append(
                        Listing(folder: folder, subdirectory: subdirectory, path: directory, mtime: nil, names: [])
                    )
                    continue
                }
                if !force, trusted[key] == status.modificationNanoseconds { continue }
                listings.append(
                    Listing(
                        folder: folder,
                        subdirectory: subdirectory,
                        path: directory,
                        mtime: status.modificationNanoseconds,
                        names: try FileSystem.listVisible(directory)
                    )
                )
            }
        }
        if listings.isEmpty { return report }

        // Compare each listed directory with the index: names, then sizes. A size in the
        // name (`,S=`, as Dovecot writes) that equals the indexed size saves the stat.
        struct Candidate: Sendable {
            var folder: String
            var subdirectory: String
            var fileName: String
            var status: FileSystem.Status
            var digest: String
        }
        var gone: [String: (id: Int64, size: Int)] = [:]
        var candidates: [Candidate] = []
        try database.read { db in
            for listing in listings {
                let rows = try Row.fetchAll(
                    db,
                    sql: "SELECT id, digest, file_name, size FROM message WHERE folder = ? AND subdirectory = ?",
                    arguments: [listing.folder, listing.subdirectory]
                )
                var indexed: [String: (Int64, String, Int)] = [:]
                indexed.reserveCapacity(rows.count)
                // Positional columns: named lookups cost more than the rest of the comparison.
                for row in rows { indexed[row[2]] = (row[0], row[1], row[3]) }
                let descriptor = open(listing.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                defer { if descriptor >= 0 { close(descriptor) } }
                for name in listing.names {
                    let existing = indexed[name]
                    if let existing, Maildir.sizeInName(name) == existing.2 {
                        indexed[name] = nil
                        continue
                    }
                    guard descriptor >= 0, let status = FileSystem.status(at: descriptor, name), status.isRegularFile
                    else { continue }
                    if let existing, existing.2 == status.size {
                        indexed[name] = nil
                        continue
                    }
                    let key = Maildir.digestKey(folder: listing.folder, uniqueName: Maildir.uniqueName(name))
                    candidates.append(
                        Candidate(
                            folder: listing.folder,
                            subdirectory: listing.subdirectory,
                            fileName: name,
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
                    arguments: [move.candidate.folder, move.candidate.subdirectory, move.candidate.fileName, move.id]
                )
            }
            report.moved = moves.count
        }

        // Parse new files in batches on all cores, insert each batch in one transaction. Each
        // file's SHA-256 goes to its folder's manifest the first time the index sees it.
        let batchSize = 512
        var start = 0
        var firstSight = FirstSightDigests()
        while start < toParse.count {
            let batch = Array(toParse[start..<min(toParse.count, start + batchSize)])
            start += batchSize
            let results = Self.parallelMap(batch) { candidate -> (record: MessageRecord, sha256: String)? in
                let path = FileSystem.join(
                    FileSystem.join(Maildir.path(root: root, folder: candidate.folder), candidate.subdirectory),
                    candidate.fileName
                )
                guard let bytes = try? FileSystem.readFile(path) else { return nil }
                let record = MessageRecord(
                    digest: candidate.digest,
                    folder: candidate.folder,
                    location: .maildir(
                        folder: candidate.folder,
                        subdirectory: candidate.subdirectory,
                        fileName: candidate.fileName
                    ),
                    bytes: bytes,
                    fallbackDate: candidate.status.modificationNanoseconds / 1_000_000_000
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
                    manifest: FileSystem.join(Maildir.path(root: root, folder: candidate.folder), Manifest.fileName),
                    name: Maildir.uniqueName(candidate.fileName),
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
                let key = listing.folder + "/" + listing.subdirectory
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
            guard let (subdirectory, fileName) = reference.locate() else {
                throw MailboxError.messageVanished(reference.fileName)
            }
            let path = FileSystem.join(FileSystem.join(reference.folderPath, subdirectory), fileName)
            let bytes = try FileSystem.readFile(path)
            let modified = FileSystem.status(path)?.modificationNanoseconds ?? FileSystem.currentNanoseconds()
            let digest = Self.sha256Hex(
                Array(Maildir.digestKey(folder: reference.folder, uniqueName: reference.uniqueName).utf8)
            )
            records.append(
                MessageRecord(
                    digest: digest,
                    folder: reference.folder,
                    location: .maildir(folder: reference.folder, subdirectory: subdirectory, fileName: fileName),
                    bytes: bytes,
                    fallbackDate: modified / 1_000_000_000
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

    static func sha256Hex(_ bytes: [UInt8]) -> String {
        Bytes.hex(SHA256.hash(data: bytes))
    }

    /// Maps on all cores, keeping order.
    static func parallelMap<Input: Sendable, Output: Sendable>(
        _ inputs: [Input],
        _ transform: @Sendable (Input) -> Output?
    ) -> [Output?] {
        let slots = ResultSlots<Output>(count: inputs.count)
        DispatchQueue.concurrentPerform(iterations: inputs.count) { index in
            slots.set(index, transform(inputs[index]))
        }
        return slots.values()
    }
}

/// Write-once result slots shared by `concurrentPerform` workers; each index is written by
/// exactly one worker and read only after all have finished.
private final class ResultSlots<Value: Sendable>: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<Value?>

    init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }

    deinit {
        storage.deinitialize()
        storage.deallocate()
    }

    func set(_ index: Int, _ value: Value?) { storage[index] = value }

    func values() -> [Value?] { Array(storage) }
}
