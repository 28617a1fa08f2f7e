import FileIO
import GRDB
import MailStore
import SystemPackage

extension MailIndex {
    /// Brings the index in line with an mbox file. Unless `force`, nothing is read when the
    /// file's size and mtime are those of the last look. Messages are matched by content
    /// digest, so only new ones are parsed; the file is read entry by entry (MailStore's
    /// `MboxReader`), keeping only the content of messages not yet indexed.
    func synchronizeMbox(path: String, force: Bool) throws -> SyncReport {
        var report = SyncReport()
        let startedAt = FileTime.now().totalNanoseconds
        let filePath = FilePath(path)
        guard let status = try? FileSystem.status(filePath), status.isRegularFile else {
            throw MailboxError.notAStore(path)
        }
        let stamp = "\(status.size):\(status.modification.totalNanoseconds)"
        let previous = try database.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'mbox'")
        }
        if !force, previous == stamp { return report }

        let existing: [String: (Int64, Int, Int)] = try database.read { db in
            var result: [String: (Int64, Int, Int)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, digest, mbox_offset, mbox_length FROM message") {
                result[row[1]] = (row[0], row[2], row[3])
            }
            return result
        }
        struct Located: Sendable {
            var digest: String
            var entry: MboxReader.Entry
            var content: [UInt8]
        }
        var seen: [String: Int] = [:]
        var keep = Set<String>()
        var fresh: [Located] = []
        var relocations: [(Int64, Int, Int)] = []
        let file = try File.open(filePath, .readOnly)
        defer { file.closeQuietly() }
        var reader = MboxReader(file: file)
        while var entry = try reader.next() {
            let content = Mbox.unquote(entry.content)
            entry.content = []
            var digest = Self.sha256Hex(content)
            // Identical copies get distinct, still offset-independent digests.
            let occurrence = seen[digest, default: 0]
            seen[digest] = occurrence + 1
            if occurrence > 0 { digest = Self.sha256Hex(content + Array("\n#\(occurrence)".utf8)) }
            keep.insert(digest)
            if let row = existing[digest] {
                if row.1 != entry.offset || row.2 != entry.length {
                    relocations.append((row.0, entry.offset, entry.length))
                }
            } else {
                fresh.append(Located(digest: digest, entry: entry, content: content))
            }
        }
        let modificationSeconds = Int64(status.modification.seconds)
        let records = Self.parsingPool.concurrentMap(fresh) { item -> MessageRecord in
            let separatorDate = Mbox.parseFromLine(item.entry.separator).flatMap { MessageDate.parse($0.date) }
            return MessageRecord(
                digest: item.digest,
                folder: "",
                location: .mbox(offset: item.entry.offset, length: item.entry.length),
                bytes: item.content,
                fallbackDate: separatorDate ?? modificationSeconds
            )
        }
        try database.write { db in
            let gone = existing.filter { !keep.contains($0.key) }
            try delete(ids: gone.map(\.value.0), in: db)
            report.removed = gone.count
            for (id, offset, length) in relocations {
                try db.execute(
                    sql: "UPDATE message SET mbox_offset = ?, mbox_length = ? WHERE id = ?",
                    arguments: [offset, length, id]
                )
            }
            report.moved = relocations.count
            report.added = try insert(records, in: db)
            try updateShortIDs(changed: Array(gone.keys) + records.map(\.digest), in: db)
            if startedAt - status.modification.totalNanoseconds > Self.racyInterval {
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('mbox', ?)", arguments: [stamp])
            } else {
                try db.execute(sql: "DELETE FROM meta WHERE key = 'mbox'")
            }
        }
        // First sight: an mbox manifest is keyed by the entry's content digest. A changed entry
        // then shows as one missing digest (a failure of `mail verify`) and one new.
        var firstSight = FirstSightDigests()
        let manifest = FilePath(OfflineMailbox.sidecarPath(forMbox: path, suffix: "postoffice-manifest"))
        for record in records {
            firstSight.add(manifest: manifest, name: record.digest, sha256: record.digest)
        }
        // Best effort: a manifest that cannot be written leaves those messages "not in manifest",
        // which `mail verify` reports.
        report.digestsRecorded = (try? firstSight.record()) ?? 0
        return report
    }
}
