// The account's blocking side: its state store and delivery target, on NIO's blocking pool.
import FileIO
import MailCore
import NIOCore

/// A message received in full (its content, or what was not yet spilled), to store and record.
struct ReceivedMessage: Sendable {
    var download: FetchPlan.Download
    var envelope: DeliveryEnvelope
    /// Replace an earlier copy under the same key (headers-only, or short).
    var replacing: Bool
    /// Content not yet handed to the writer, in order.
    var chunks: [ByteBuffer]
    /// What to record once stored (the worker fills in the location).
    var entry: FetchStateEntry
}

/// A copy an interrupted run left, found under a download's key.
struct EarlierCopy: Sendable, Hashable {
    var location: String
    /// It holds only the header (`X-PostOffice-Headers-Only`).
    var headersOnly: Bool
}

/// Owns everything of an account's run that blocks: the state store (SQLite), the delivery
/// target with its open files, the fault counter of the storing steps. It runs on a
/// `BlockingSerialExecutor`, so its methods block on NIO's pool, never on Swift's cooperative
/// pool; each call is one hop, so callers hand it whole messages and batches.
///
/// The storing steps of one message, each a fault point (DESIGN.md invariants 1 and 2):
/// write → fsync (`fsynced`) → [hand-over recorded (`handedOver`), commands only] → visible
/// (`renamed`) → recorded (`recorded`).
actor StoreWorker {
    private let executor = BlockingSerialExecutor()
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let account: FetchAccount
    private let options: FetchOptions
    private let store: FetchStateStore
    private var faults: FaultCounter
    /// Made on first use (it creates directories).
    private var deliverer: (any Deliverer)?
    /// Writers of messages too large to hold until their end, by unique id.
    private var open: [UniqueID: any MessageWriter] = [:]

    init(account: FetchAccount, options: FetchOptions, store: FetchStateStore) {
        self.account = account
        self.options = options
        self.store = store
        self.faults = FaultCounter(options.faults)
    }

    private func target() throws -> any Deliverer {
        if let deliverer { return deliverer }
        let made = try account.target.makeDeliverer(spoolDirectory: directory(of: account.statePath))
        deliverer = made
        return made
    }

    /// Opens the delivery target; returns what it can do.
    func capabilities() throws -> DeliveryCapabilities {
        try target().capabilities
    }

    // MARK: - Planning

    /// The state in one read and, when the policy needs it, the target's keys in one look.
    func plannerInputs() throws -> PlannerInputs {
        let snapshot = try store.snapshot()
        var presentKeys: Set<String>?
        let deliverer = try target()
        if deliverer.capabilities.tellsWhetherCopiesRemain,
            PlannerInputs.needsPresentKeys(snapshot, policy: account.policy)
        {
            // A target that cannot be looked at is treated as "cannot tell" (PlannerInputs).
            presentKeys = try? deliverer.presentKeys()
        }
        return PlannerInputs(snapshot: snapshot, presentKeys: presentKeys, account: account.identity)
    }

    /// Copies an interrupted run stored under these downloads' keys (none for a target that
    /// cannot find them). Each one found is made durable first: the run that stored it may
    /// have died before its fsync, and the caller may go on to delete the server's copy.
    func earlierCopies(of downloads: [FetchPlan.Download]) throws -> [UniqueID: EarlierCopy] {
        let deliverer = try target()
        guard deliverer.capabilities.findsEarlierCopies else { return [:] }
        var found: [UniqueID: EarlierCopy] = [:]
        for download in downloads where !download.replacesEarlierCopy {
            let key = DeliveryKey(
                account: account.identity,
                uniqueID: download.uniqueID,
                generation: download.generation
            )
            guard let location = try deliverer.existingLocation(of: key) else { continue }
            found[download.uniqueID] = EarlierCopy(
                location: location,
                headersOnly: download.mode == .full && deliverer.isHeadersOnlyCopy(at: location)
            )
        }
        return found
    }

    // MARK: - Recording

    /// Records copies found from an interrupted run, one durable transaction each.
    func recover(_ entries: [FetchStateEntry]) throws {
        for entry in entries {
            try store.record(entry)
            try faults.reached(.recorded)
        }
    }

    /// `--mark-seen` and imports: ids not yet known; returns how many were new.
    func recordIfAbsent(_ entries: [FetchStateEntry]) throws -> Int {
        try store.recordIfAbsent(entries)
    }

    /// Imports another program's state file (reading it is blocking too).
    func importState(_ item: StateImport, now: Int64) throws -> Int {
        try StateImporter.importState(item, into: store, account: account, now: now)
    }

    /// After a session the server completed with `QUIT`.
    func sessionCompleted(plan: FetchPlan, deleted: [UniqueID]) throws {
        try store.setStatus(.goneFromServer, for: plan.vanished)
        try store.setStatus(.deletedOnServer, for: deleted)
        try store.dropHandOvers(of: plan.settledHandOvers)
    }

    func markReappeared(_ uniqueIDs: [UniqueID]) throws {
        try store.setStatus(.stored, for: uniqueIDs)
    }

    // MARK: - Storing

    /// Writes part of a message too large to hold until its end; nil, or the failure (the
    /// partial copy is then gone).
    func spill(
        _ chunks: [ByteBuffer],
        of envelope: DeliveryEnvelope,
        replacing: Bool
    ) -> FetchFailure? {
        let uniqueID = envelope.key.uniqueID
        do {
            let writer = try open[uniqueID] ?? target().makeWriter(for: envelope, replacing: replacing)
            open[uniqueID] = writer
            for chunk in chunks { try writer.write(chunk) }
            return nil
        } catch let failure as FetchFailure {
            open.removeValue(forKey: uniqueID)?.discard()
            return failure
        } catch {
            open.removeValue(forKey: uniqueID)?.discard()
            return FetchFailure(kind: .localWrite, message: "\(error)")
        }
    }

    /// The most files of a group written before they are fsynced: their writeback is started
    /// as each is written, so one journal commit covers them and most of their fsyncs find the
    /// work done; bounded so the open descriptors stay far below the usual limit of 1,024.
    static let syncBatch = 64

    /// Stores a group of messages and records them (issue 7, grouped storing): each is written
    /// (`downloaded`), a batch at a time, and the batch fsynced (`fsynced`); all are made
    /// visible, the target's directories are fsynced once (`renamed`), and all are recorded in
    /// one transaction (`recorded`). A target that records hand-overs (a command) stores them
    /// one by one, each with its hand-over.
    ///
    /// Returns one result per message, in order: its location, or the failure of the target
    /// (disk full, a command that refused it), after which nothing of it is left; nil when it
    /// was not tried because an earlier one failed on a target whose failures are not per
    /// message. State-store failures and injected faults are thrown (an injected fault leaves
    /// everything as a crash would).
    func store(_ messages: [ReceivedMessage]) throws -> [Result<String, FetchFailure>?] {
        let deliverer = try target()
        let capabilities = deliverer.capabilities
        var results = [Result<String, FetchFailure>?](repeating: nil, count: messages.count)
        if capabilities.recordsHandOver {
            for (index, message) in messages.enumerated() {
                let result = try storeHandingOver(message, to: deliverer)
                results[index] = result
                if case .failure = result, !capabilities.failuresArePerMessage { break }
            }
            return results
        }
        var synced: [(index: Int, writer: any MessageWriter)] = []
        var start = 0
        var stopped = false
        while start < messages.count && !stopped {
            let end = min(start + Self.syncBatch, messages.count)
            var written: [(index: Int, writer: any MessageWriter)] = []
            for index in start..<end {
                let message = messages[index]
                do {
                    let writer = try writer(for: message, deliverer)
                    do {
                        for chunk in message.chunks { try writer.write(chunk) }
                        try writer.endContent()
                    } catch let failure as FetchFailure {
                        writer.discard()
                        throw failure
                    }
                    try faults.reached(.downloaded)
                    written.append((index, writer))
                } catch let failure as FetchFailure {
                    results[index] = .failure(failure)
                    guard capabilities.failuresArePerMessage else {
                        // Not tried: what was spilled of them goes too. Those written before
                        // are still fsynced and stored below.
                        for rest in messages[(index + 1)...] { discard(rest.envelope.key.uniqueID) }
                        stopped = true
                        break
                    }
                }
            }
            for (position, item) in written.enumerated() {
                do {
                    try item.writer.sync()
                } catch let failure as FetchFailure {
                    item.writer.discard()
                    results[item.index] = .failure(failure)
                    guard capabilities.failuresArePerMessage else {
                        for rest in written[(position + 1)...] { rest.writer.discard() }
                        if !stopped {
                            for rest in messages[end...] { discard(rest.envelope.key.uniqueID) }
                        }
                        stopped = true
                        break
                    }
                    continue
                }
                try faults.reached(.fsynced)
                synced.append(item)
            }
            start = end
        }
        var visible: [(index: Int, writer: any MessageWriter, location: String)] = []
        for (position, item) in synced.enumerated() {
            do {
                visible.append((item.index, item.writer, try item.writer.commit()))
            } catch let failure as FetchFailure {
                item.writer.discard()
                results[item.index] = .failure(failure)
                guard capabilities.failuresArePerMessage else {
                    for rest in synced[(position + 1)...] { rest.writer.discard() }
                    break
                }
            }
        }
        do {
            try deliverer.syncCommitted()
        } catch let failure as FetchFailure {
            // Visible but maybe not durable: not recorded, so not deleted; the next run finds them.
            for item in visible { results[item.index] = .failure(failure) }
            return results
        }
        for _ in visible { try faults.reached(.renamed) }
        try store.record(
            visible.map { item in
                var entry = messages[item.index].entry
                entry.location = item.location
                return entry
            }
        )
        for item in visible {
            try faults.reached(.recorded)
            results[item.index] = .success(item.location)
        }
        if let stored = options.stored, !visible.isEmpty {
            stored(
                visible.map {
                    StoredMessage(account: account.name, location: $0.location, sha256: $0.writer.contentDigest)
                }
            )
        }
        return results
    }

    /// One message to a command: its hand-over is recorded before the command runs, and settled
    /// by the message's record (or abandoned when the command refuses it).
    private func storeHandingOver(
        _ message: ReceivedMessage,
        to deliverer: any Deliverer
    ) throws -> Result<String, FetchFailure> {
        let uniqueID = message.envelope.key.uniqueID
        let location: String
        let writer: any MessageWriter
        do {
            writer = try self.writer(for: message, deliverer)
        } catch let failure as FetchFailure {
            return .failure(failure)
        }
        do {
            for chunk in message.chunks { try writer.write(chunk) }
            try faults.reached(.downloaded)
            try writer.sync()
            try faults.reached(.fsynced)
            try store.recordHandOver(
                of: uniqueID,
                generation: message.download.generation,
                at: message.envelope.receivedAt
            )
            try faults.reached(.handedOver)
            do {
                location = try writer.commit()
            } catch let failure as FetchFailure {
                // The command said no: it does not have the message.
                try store.abandonHandOver(of: uniqueID)
                throw failure
            }
        } catch let failure as FetchFailure {
            writer.discard()
            return .failure(failure)
        }
        try faults.reached(.renamed)
        var entry = message.entry
        entry.location = location
        try store.record(entry)
        try faults.reached(.recorded)
        options.stored?([StoredMessage(account: account.name, location: location, sha256: writer.contentDigest)])
        return .success(location)
    }

    /// The writer a message was spilled to, or a new one.
    private func writer(for message: ReceivedMessage, _ deliverer: any Deliverer) throws -> any MessageWriter {
        if let open = open.removeValue(forKey: message.envelope.key.uniqueID) { return open }
        return try deliverer.makeWriter(for: message.envelope, replacing: message.replacing)
    }

    /// Abandons a message whose transfer failed part-way (its partial copy is useless).
    func discard(_ uniqueID: UniqueID) {
        open.removeValue(forKey: uniqueID)?.discard()
    }
}

/// The directory of a file path (`.` for a bare name).
func directory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let directory = String(path[..<slash])
    return directory.isEmpty ? "/" : directory
}
