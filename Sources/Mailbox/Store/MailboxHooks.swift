import MailStore
import SystemPackage

/// Called by the fetch engine after it has stored a message in a Maildir (renamed into
/// `new/`): parses the message and adds it to the mailbox's search index, creating the index
/// if needed. `fileName` is relative to `maildir`: `new/NAME`, `cur/NAME:2,S`,
/// `.Folder/new/NAME`, or a bare `NAME` (looked up in `new/` and `cur/`).
///
/// Blocking file and SQLite I/O: call it off any event loop. Failing to index loses nothing;
/// the next `postoffice mail` command notices the file anyway.
public func indexMessage(maildir: String, fileName: String) throws {
    let reference = try MaildirFileReference(maildir: maildir, fileName: fileName)
    let index = try MailIndex(path: OfflineMailbox.defaultIndexPath(for: .maildir(maildir)))
    try index.indexMaildirFile(root: maildir, reference: reference)
}

/// Called by the fetch engine after it has stored a message: appends `sha256 uniquename` to
/// the integrity manifest of the Maildir (or Maildir++ folder) holding it, under an exclusive
/// lock. `sha256` is the lowercase or uppercase hex SHA-256 of the file's bytes exactly as
/// written. `fileName` is as for ``indexMessage(maildir:fileName:)``; flags after `:` are
/// ignored.
public func recordInManifest(maildir: String, fileName: String, sha256: String) throws {
    let digest = sha256.lowercased()
    guard digest.count == 64, digest.allSatisfy(\.isHexDigit) else { throw MailboxError.invalidDigest(sha256) }
    let reference = try MaildirFileReference(maildir: maildir, fileName: fileName)
    try Manifest.append(
        digest: digest,
        uniqueName: reference.uniqueName,
        to: reference.maildir.root.appending(Manifest.fileName)
    )
}

/// ``recordInManifest(maildir:fileName:sha256:)`` with the 32 digest octets
/// (`Array(SHA256.hash(data:))`).
public func recordInManifest(maildir: String, fileName: String, sha256: [UInt8]) throws {
    guard sha256.count == 32 else { throw MailboxError.invalidDigest(Bytes.hex(sha256)) }
    try recordInManifest(maildir: maildir, fileName: fileName, sha256: Bytes.hex(sha256))
}

/// ``indexMessage(maildir:fileName:)`` for several messages of one Maildir, as the fetch engine
/// stores them in groups: one index opened, one transaction.
public func indexMessages(maildir: String, fileNames: [String]) throws {
    guard !fileNames.isEmpty else { return }
    let references = try fileNames.map { try MaildirFileReference(maildir: maildir, fileName: $0) }
    let index = try MailIndex(path: OfflineMailbox.defaultIndexPath(for: .maildir(maildir)))
    try index.indexMaildirFiles(root: maildir, references: references)
}

/// ``recordInManifest(maildir:fileName:sha256:)`` for several messages (32 digest octets each):
/// one append, one fsync per manifest.
public func recordInManifest(maildir: String, entries: [(fileName: String, sha256: [UInt8])]) throws {
    var lines: [FilePath: [(digest: String, uniqueName: String)]] = [:]
    for entry in entries {
        guard entry.sha256.count == 32 else { throw MailboxError.invalidDigest(Bytes.hex(entry.sha256)) }
        let reference = try MaildirFileReference(maildir: maildir, fileName: entry.fileName)
        lines[reference.maildir.root.appending(Manifest.fileName), default: []].append(
            (Bytes.hex(entry.sha256), reference.uniqueName)
        )
    }
    for (path, entries) in lines {
        try Manifest.append(entries, to: path)
    }
}
