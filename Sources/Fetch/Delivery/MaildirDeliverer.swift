// Maildir delivery through MailStore's Maildir: tmp/ → fsync → rename into new/ → fsync new/.
// Names derive from the key, so a rerun finds an earlier copy.
import FileIO
import MailStore
import NIOCore

/// Stores each message as `new/<time>.<hash>.<host>,S=<size>,W=<crlf size>`.
///
/// `<hash>` is `DeliveryKey.hash`, the name's delivery identifier; before writing, `new/` and
/// `cur/` are searched for a name whose identifier is that hash (a mail reader may have moved it
/// to `cur/` and added `:2,` flags). Found means "stored by an interrupted run": it is recorded,
/// not written again. The temporary file is `tmp/<hash>.<host>`, so a leftover of a crash is
/// overwritten. Names written by earlier versions, whose host part escaped `.` as `\056`, are
/// found the same way: only the identifier counts.
final class MaildirDeliverer: Deliverer {
    let root: String
    private let maildir: Maildir
    private let host: String
    /// Hash → copies in `new/` and `cur/`; built on first use.
    private var index: [String: [MaildirLocation]]?
    /// Directories changed by commits since the last `syncCommitted()`.
    private var unsyncedDirectories: Set<MaildirSubdirectory> = []

    init(path: String) throws {
        root = path
        maildir = Maildir(path: path)
        host = SystemIdentity.hostName()
        try localWrite { try maildir.create() }
    }

    /// A copy an interrupted run stored; made durable before it is returned, since the caller
    /// records it and then deletes the server's copy, and the interrupted run may have died
    /// between its rename and the directory's fsync.
    func existingLocation(of key: DeliveryKey) throws -> String? {
        guard let location = try loadIndex()[key.hash]?.first else { return nil }
        try localWrite {
            try FileSystem.syncFile(maildir.path(of: location))
            try FileSystem.syncDirectory(maildir.path(of: location.subdirectory))
        }
        return self.path(of: location)
    }

    /// Files, and a new copy replaces an earlier one (renamed into place, then the old unlinked).
    var capabilities: DeliveryCapabilities {
        var capabilities = DeliveryCapabilities.files
        capabilities.replacesCopies = true
        return capabilities
    }

    func presentKeys() throws -> Set<String> {
        Set(try loadIndex().keys)
    }

    func isHeadersOnlyCopy(at location: String) -> Bool {
        HeadersOnlyMarker.isHeadersOnly(path: location)
    }

    func makeWriter(for envelope: DeliveryEnvelope, replacing: Bool) throws -> any MessageWriter {
        let hash = envelope.key.hash
        let replaced = replacing ? try loadIndex()[hash] ?? [] : []
        let writer = try localWrite {
            let writer = try maildir.makeWriter(
                uniquePart: MaildirUniqueName.format(seconds: Int(envelope.receivedAt), identifier: hash, host: host),
                temporaryName: "\(hash).\(MaildirUniqueName.escapeHostname(host))",
                computeDigest: true
            )
            try writer.writeRaw(TraceHeader.lines(for: envelope))
            return writer
        }
        return Writer(deliverer: self, writer: writer, hash: hash, replacing: replaced)
    }

    /// The new copy is visible; its directory is fsynced by `syncCommitted()` (once for a group).
    fileprivate func committed(hash: String, commit: MaildirCommit) {
        unsyncedDirectories.formUnion(commit.unsyncedDirectories)
        index?[hash] = [commit.location]
    }

    func syncCommitted() throws {
        try localWrite { try maildir.syncDirectories(unsyncedDirectories) }
        unsyncedDirectories.removeAll()
    }

    fileprivate func path(of location: MaildirLocation) -> String {
        root + "/" + location.relativePath
    }

    private func loadIndex() throws -> [String: [MaildirLocation]] {
        if let index { return index }
        var built: [String: [MaildirLocation]] = [:]
        try localWrite {
            for subdirectory in MaildirSubdirectory.allCases {
                for name in try maildir.messages(in: subdirectory) {
                    guard let identifier = name.deliveryIdentifier, identifier.count == 32 else { continue }
                    built[String(decoding: identifier, as: UTF8.self), default: []].append(
                        MaildirLocation(subdirectory: subdirectory, name: name)
                    )
                }
            }
        }
        index = built
        return built
    }

    private final class Writer: MessageWriter {
        let deliverer: MaildirDeliverer
        let writer: MaildirMessageWriter
        let hash: String
        let replacing: [MaildirLocation]

        init(deliverer: MaildirDeliverer, writer: MaildirMessageWriter, hash: String, replacing: [MaildirLocation]) {
            self.deliverer = deliverer
            self.writer = writer
            self.hash = hash
            self.replacing = replacing
        }

        func write(_ chunk: ByteBuffer) throws {
            try localWrite { try writer.write(chunk) }
        }

        func endContent() throws {
            try localWrite { try writer.endContent() }
        }

        func sync() throws {
            try localWrite { try writer.finish() }
        }

        var contentDigest: [UInt8]? { writer.digest }

        func commit() throws -> String {
            let commit = try localWrite { try writer.commitDeferringSync(replacing: replacing) }
            deliverer.committed(hash: hash, commit: commit)
            return deliverer.path(of: commit.location)
        }

        func discard() {
            writer.discard()
        }
    }
}
