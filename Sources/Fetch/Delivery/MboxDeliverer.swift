// mbox delivery through MailStore's mbox writer (mboxrd, fcntl locking, fsync, recognition of
// earlier appends, repair of a torn entry).
import FileIO
import MailStore
import NIOCore
import SystemPackage

/// Appends messages to an mbox file as keyed entries (`MboxEntryWriter`): the key is
/// `DeliveryKey.hash`, the sender `MAILER-DAEMON`, the date the time of receipt, and the trace
/// header comes first.
///
/// How duplicates are avoided: the entry is spooled to `.<mbox name>.postoffice-<hash>.tmp`
/// next to the mbox, its length written into the `X-PostOffice-Key` line, and fsynced; the
/// append then happens under the mbox's locks, followed by `fsync`. If the run dies after the
/// append but before the state records it, the next run scans the mbox (once per run, only when
/// something is to be downloaded) for complete keyed entries: one with the same hash means
/// "already stored", so it is recorded without appending again. An entry torn by a crash
/// mid-append at the end of the file is truncated away (see `MboxFile.keyedEntries()`).
final class MboxDeliverer: Deliverer {
    let path: String
    private let mbox: MboxFile
    /// Hash → offset of complete entries; built on first use.
    private var index: [String: Int]?
    private(set) var truncatedTornEntry = false

    init(path: String) throws {
        self.path = path
        mbox = MboxFile(path: FilePath(path))
        try localWrite { try FileSystem.createDirectories(mbox.directory) }
    }

    /// A copy an interrupted run appended; the mbox is fsynced before it is returned (the run
    /// may have died between its write and its fsync, and the caller goes on to delete the
    /// server's copy).
    func existingLocation(of key: DeliveryKey) throws -> String? {
        guard let offset = try loadIndex()[key.hash] else { return nil }
        try localWrite { try mbox.sync() }
        return "mbox:\(offset):\(key.hash)"
    }

    /// Files; entries are appended, never rewritten, so an earlier copy stays beside a new one.
    var capabilities: DeliveryCapabilities { .files }

    func presentKeys() throws -> Set<String> {
        Set(try loadIndex().keys)
    }

    /// `location` is `mbox:OFFSET:HASH` (see `existingLocation(of:)`).
    func isHeadersOnlyCopy(at location: String) -> Bool {
        let parts = location.split(separator: ":")
        guard parts.count == 3, parts[0] == "mbox", let offset = Int(parts[1]), offset >= 0,
            let prefix = try? mbox.read(count: HeadersOnlyMarker.window, at: offset), !prefix.isEmpty
        else { return true }
        return HeadersOnlyMarker.isHeadersOnly(prefix: prefix[...])
    }

    /// The spool file of the entry with this hash, next to the mbox.
    private func spoolPath(hash: String) -> FilePath {
        let name = mbox.path.lastComponent?.string ?? "mbox"
        return mbox.directory.appending(".\(name).postoffice-\(hash).tmp")
    }

    func makeWriter(for envelope: DeliveryEnvelope, replacing: Bool) throws -> any MessageWriter {
        let hash = envelope.key.hash
        let entry = try localWrite {
            let entry = try MboxEntryWriter(
                mbox: mbox,
                key: hash,
                spool: spoolPath(hash: hash),
                sender: "MAILER-DAEMON",
                date: envelope.receivedAt
            )
            try entry.writeRaw(TraceHeader.lines(for: envelope))
            return entry
        }
        return Writer(deliverer: self, entry: entry)
    }

    fileprivate func appended(hash: String, offset: Int) -> String {
        index?[hash] = offset
        return "mbox:\(offset):\(hash)"
    }

    private func loadIndex() throws -> [String: Int] {
        if let index { return index }
        let scan = try localWrite { try mbox.keyedEntries() }
        truncatedTornEntry = scan.truncatedTornEntry
        // A run killed after the append but before it removed its spool file leaves that file
        // behind; the entry is complete, so the spool is garbage. Only this account's run (it
        // holds the account lock) writes spools with these hashes.
        for hash in scan.offsets.keys {
            _ = try? FileSystem.remove(spoolPath(hash: hash))
        }
        index = scan.offsets
        return scan.offsets
    }

    private final class Writer: MessageWriter {
        let deliverer: MboxDeliverer
        let entry: MboxEntryWriter

        init(deliverer: MboxDeliverer, entry: MboxEntryWriter) {
            self.deliverer = deliverer
            self.entry = entry
        }

        func write(_ chunk: ByteBuffer) throws {
            try localWrite { try entry.write(chunk) }
        }

        func sync() throws {
            try localWrite { try entry.finish() }
        }

        func commit() throws -> String {
            let offset = try localWrite { try entry.commit() }
            return deliverer.appended(hash: entry.key, offset: offset)
        }

        func discard() {
            entry.discard()
        }
    }
}
