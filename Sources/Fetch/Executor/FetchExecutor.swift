// Runs one account: lock, state, session, plan, store, record, only then DELE, QUIT.
import Logging
import NIOCore
import POP3Client

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Performs a `FetchPlan` for one account.
///
/// The order per message is the invariant (DESIGN.md, invariants 1 and 2):
/// stream into a temporary file → fsync → make visible (rename / append / MDA) → record in the
/// state (committed) → only then `DELE` → `QUIT`. Each boundary is a `FaultPoint`.
/// A message is deleted on the server only after it is durably stored and recorded; a crash at
/// any point leaves either nothing (re-downloaded under the same derived name) or a stored copy
/// that the next run recognises (Maildir name hash, mbox key header) instead of storing again.
struct FetchExecutor {
    let account: FetchAccount
    let options: FetchOptions
    let logger: Logger

    /// Runs the account with sessions from `connector`; never throws (failures are in the report)
    /// except for `InjectedFault`, which simulates a crash and propagates untouched.
    func run(connector: any MailSourceConnector) async throws -> AccountReport {
        var report = AccountReport(account: account.name)
        do {
            try makeDirectories(directory(of: account.statePath))
            let lock = try AccountLock(path: account.statePath + ".lock")
            defer { withExtendedLifetime(lock) {} }
            let store = try FetchStateStore(path: account.statePath, account: account.identity)
            for item in options.imports {
                let imported = try StateImporter.importState(
                    item,
                    into: store,
                    account: account,
                    now: options.clock.now()
                )
                report.markedSeen += imported
                logger.info("imported state", metadata: ["account": "\(account.name)", "new": "\(imported)"])
            }
            let deliverer = try account.target.makeDeliverer(spoolDirectory: directory(of: account.statePath))
            let session = Session(
                account: account,
                options: options,
                logger: logger,
                store: store,
                deliverer: deliverer,
                report: report
            )
            report = try await connector.withSource { source in
                try await session.run(source)
                return session.report
            }
        } catch let fault as InjectedFault {
            throw fault
        } catch let failure as FetchFailure {
            report.errors.append(failure)
        } catch {
            report.errors.append(FetchFailure(kind: .other, message: "\(error)"))
        }
        for failure in report.errors {
            logger.error("fetch failed", metadata: ["account": "\(account.name)", "error": "\(failure)"])
        }
        return report
    }

    private func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }
}

/// One session's mutable state. Used by one task only.
private final class Session: @unchecked Sendable {
    let account: FetchAccount
    let options: FetchOptions
    let logger: Logger
    let store: FetchStateStore
    let deliverer: any Deliverer
    var report: AccountReport
    var faults: FaultCounter
    /// Messages to delete, in order: (number, unique id).
    var toDelete: [(number: Int, uniqueID: String)] = []
    /// Unique ids whose full download replaces a headers-only copy an interrupted run left.
    var replacingHeadersOnly: Set<String> = []
    /// Set when storing locally failed in a way that would fail again (disk full).
    var localWritesBroken = false

    init(
        account: FetchAccount,
        options: FetchOptions,
        logger: Logger,
        store: FetchStateStore,
        deliverer: any Deliverer,
        report: AccountReport
    ) {
        self.account = account
        self.options = options
        self.logger = logger
        self.store = store
        self.deliverer = deliverer
        self.report = report
        self.faults = FaultCounter(options.faults)
    }

    var shouldStop: Bool { options.stop.isStopRequested || localWritesBroken }

    func run(_ source: any MailSource) async throws {
        let serverMessages = try await listing(source)
        if options.markSeen {
            try markSeen(serverMessages)
            try await source.quit()
            return
        }
        let entries = try store.entries()
        var locallyMissing: Set<String> = []
        if account.policy.deletion == .deleteWhenDeletedLocally {
            for entry in entries.values
            where entry.status != .deletedOnServer && !entry.location.isEmpty && !entry.headersOnly {
                let key = DeliveryKey(account: account.identity, uniqueID: entry.uniqueID, generation: entry.generation)
                if !deliverer.locationExists(entry.location, key: key) {
                    locallyMissing.insert(entry.uniqueID)
                }
            }
        }
        // Ids missing from an earlier listing whose copy is still here: if listed again with
        // the same size they are the same message. An MDA cannot tell, so it gets nothing here
        // (a reappearing id is then delivered again rather than risk never delivering it).
        var locallyPresent: Set<String> = []
        if !(deliverer is MDADeliverer) {
            for entry in entries.values where entry.status == .goneFromServer && !entry.location.isEmpty {
                let key = DeliveryKey(account: account.identity, uniqueID: entry.uniqueID, generation: entry.generation)
                if deliverer.locationExists(entry.location, key: key) {
                    locallyPresent.insert(entry.uniqueID)
                }
            }
        }
        let plan = FetchPlanner.plan(
            serverMessages: serverMessages,
            state: entries,
            policy: account.policy,
            now: options.clock.now(),
            locallyMissing: locallyMissing,
            locallyPresent: locallyPresent
        )
        for warning in plan.warnings {
            logger.warning("\(warning)", metadata: ["account": "\(account.name)"])
        }
        report.warnings += plan.warnings
        report.skipped += plan.skips.count
        try store.setStatus(.stored, for: plan.reappeared)
        toDelete = plan.deletions.map { ($0.number, $0.uniqueID) }

        var retrieveFull: [FetchPlan.Download] = []
        var retrieveHeaders: [FetchPlan.Download] = []
        for download in plan.downloads {
            if download.reason != .sizeLimitLifted, let location = try deliverer.existingLocation(of: key(download)) {
                guard download.mode == .full && deliverer.isHeadersOnlyCopy(at: location) else {
                    try recover(download, location: location)
                    continue
                }
                // An interrupted headers-only run (smaller limit then): that header is not
                // the message; download it whole and replace the header copy.
                replacingHeadersOnly.insert(download.uniqueID)
            }
            if download.mode == .full {
                retrieveFull.append(download)
            } else {
                retrieveHeaders.append(download)
            }
        }

        options.progress?(
            .planned(
                account: account.name,
                messages: retrieveFull.count + retrieveHeaders.count,
                bytes: retrieveFull.reduce(0) { total, download in
                    let (sum, overflow) = total.addingReportingOverflow(download.size)
                    return overflow ? Int.max : sum
                }
            )
        )
        let window = max(1, account.pipelineWindow)
        var start = 0
        while start < retrieveFull.count && !shouldStop {
            let batch = Array(retrieveFull[start..<min(start + window, retrieveFull.count)])
            start += batch.count
            try await retrieve(batch, from: source)
        }
        for download in retrieveHeaders where !shouldStop {
            try await fetchHeaders(download, from: source)
        }
        if shouldStop && options.stop.isStopRequested {
            report.interrupted = true
        }

        if !toDelete.isEmpty {
            try await source.delete(toDelete.map(\.number))
            for _ in toDelete {
                try faults.reached(.deleSent)
            }
        }
        try await source.quit()
        try faults.reached(.quit)
        // Only a session the server completed says what the maildrop holds: a listing of a run
        // that failed may have been partial (and then the message comes back).
        try store.setStatus(.goneFromServer, for: plan.vanished)
        try store.setStatus(.deletedOnServer, for: toDelete.map(\.uniqueID))
        report.deleted += toDelete.count
        logger.info(
            "fetched",
            metadata: [
                "account": "\(account.name)", "downloaded": "\(report.downloaded)", "deleted": "\(report.deleted)",
                "skipped": "\(report.skipped)", "recovered": "\(report.recovered)",
            ]
        )
    }

    // MARK: - Listing

    private func listing(_ source: any MailSource) async throws -> [ServerMessage] {
        let list = try await source.list()
        var ids: [Int: String] = [:]
        if let uidl = try await source.uidl() {
            for entry in uidl { ids[entry.number] = entry.uniqueID }
        } else {
            let warning = "the server does not support UIDL: messages are identified by a digest of their header"
            logger.warning("\(warning)", metadata: ["account": "\(account.name)"])
            report.warnings.append(warning)
            var digests: [String] = []
            for entry in list {
                var accumulator = HeaderDigest.Accumulator()
                try await source.top(entry.number, lines: 0) { event in
                    if case .bytes(let buffer) = event {
                        accumulator.add(buffer.readableBytesView)
                    }
                }
                digests.append(accumulator.uniqueID(size: entry.size))
            }
            for (entry, id) in zip(list, HeaderDigest.disambiguate(digests)) {
                ids[entry.number] = id
            }
        }
        var messages: [ServerMessage] = []
        for entry in list {
            guard let id = ids[entry.number] else {
                report.warnings.append("message \(entry.number) has no unique id; it is left on the server")
                report.skipped += 1
                continue
            }
            messages.append(ServerMessage(number: entry.number, uniqueID: id, size: entry.size))
        }
        return messages
    }

    private func markSeen(_ messages: [ServerMessage]) throws {
        let now = options.clock.now()
        let entries = messages.map {
            FetchStateEntry(uniqueID: $0.uniqueID, size: $0.size, firstDownloaded: now, location: "")
        }
        report.markedSeen += try store.recordIfAbsent(entries)
    }

    // MARK: - Storing

    private func key(_ download: FetchPlan.Download) -> DeliveryKey {
        DeliveryKey(account: account.identity, uniqueID: download.uniqueID, generation: download.generation)
    }

    private func envelope(_ download: FetchPlan.Download) -> DeliveryEnvelope {
        DeliveryEnvelope(
            key: key(download),
            serverHost: account.host,
            user: account.user,
            receivedAt: options.clock.now(),
            headersOnly: download.mode == .headersOnly
        )
    }

    private func entry(_ download: FetchPlan.Download, location: String) -> FetchStateEntry {
        FetchStateEntry(
            uniqueID: download.uniqueID,
            size: download.size,
            firstDownloaded: download.firstDownloaded ?? options.clock.now(),
            location: location,
            status: .stored,
            headersOnly: download.mode == .headersOnly,
            generation: download.generation
        )
    }

    /// A copy stored by an interrupted run: record it, do not store it again.
    private func recover(_ download: FetchPlan.Download, location: String) throws {
        try store.record(entry(download, location: location))
        try faults.reached(.recorded)
        report.recovered += 1
        logger.info("found an earlier copy", metadata: ["account": "\(account.name)", "uidl": "\(download.uniqueID)"])
        if download.deleteAfterStoring {
            toDelete.append((download.number, download.uniqueID))
        }
    }

    private func retrieve(_ batch: [FetchPlan.Download], from source: any MailSource) async throws {
        var byNumber: [Int: FetchPlan.Download] = [:]
        for download in batch { byNumber[download.number] = download }
        var current: (download: FetchPlan.Download, writer: any MessageWriter)?
        var received = 0
        defer {
            // The connection failed mid-message: the partial copy is useless (the next run
            // downloads the message again); remove it rather than leave it in tmp/.
            current?.writer.discard()
        }
        try await source.retrieve(batch.map(\.number)) { event in
            switch event {
            case .begin(let number):
                current = nil
                received = 0
                guard !self.shouldStop, let download = byNumber[number] else { return }
                current = try self.begin(download)
            case .bytes(let buffer):
                guard let active = current else { return }
                received += buffer.readableBytes
                guard received <= BodySize.maximum(listed: active.download.size) else {
                    throw BodySize.oversized(active.download)  // the deferred discard removes the copy
                }
                self.report.bytes += buffer.readableBytes
                self.options.progress?(.received(account: self.account.name, bytes: buffer.readableBytes))
                do {
                    try active.writer.write(buffer)
                } catch let failure as FetchFailure {
                    self.failed(active.download, active.writer, failure)
                    current = nil
                }
            case .end:
                guard let active = current else { return }
                current = nil
                try self.finish(active.download, active.writer, received: received)
            }
        }
    }

    private func fetchHeaders(_ download: FetchPlan.Download, from source: any MailSource) async throws {
        var writer: (any MessageWriter)?
        var received = 0
        defer { writer?.discard() }  // a partial header from a failed connection
        try await source.top(download.number, lines: 0) { event in
            switch event {
            case .begin:
                writer = try self.begin(download)?.writer
            case .bytes(let buffer):
                guard let active = writer else { return }
                received += buffer.readableBytes
                guard received <= BodySize.maximum(listed: download.size) else {
                    throw BodySize.oversized(download)
                }
                self.report.bytes += buffer.readableBytes
                do {
                    try active.write(buffer)
                } catch let failure as FetchFailure {
                    self.failed(download, active, failure)
                    writer = nil
                }
            case .end:
                guard let active = writer else { return }
                writer = nil
                try self.finish(download, active)
            }
        }
    }

    private func begin(_ download: FetchPlan.Download) throws -> (
        download: FetchPlan.Download, writer: any MessageWriter
    )? {
        do {
            let writer = try deliverer.makeWriter(
                for: envelope(download),
                replacing: download.reason == .sizeLimitLifted || replacingHeadersOnly.contains(download.uniqueID)
            )
            return (download, writer)
        } catch let failure as FetchFailure {
            record(failure, for: download, fatal: true)
            return nil
        }
    }

    /// Stores and records a message; `received` is its octet count as received (nil for `TOP`).
    private func finish(_ download: FetchPlan.Download, _ writer: any MessageWriter, received: Int? = nil) throws {
        try faults.reached(.downloaded)
        let location: String
        do {
            try writer.sync()
            try faults.reached(.fsynced)
            location = try writer.commit()
        } catch let failure as FetchFailure {
            failed(download, writer, failure)
            return
        }
        try faults.reached(.renamed)
        try store.record(entry(download, location: location))
        try faults.reached(.recorded)
        report.downloaded += 1
        options.progress?(.stored(account: account.name))
        options.stored?(StoredMessage(account: account.name, location: location, sha256: writer.contentDigest))
        guard download.deleteAfterStoring else { return }
        if let received, BodySize.isClearlyShort(received: received, listed: download.size) {
            // Stored (it may be all there is), but the server's copy stays: it may be whole.
            let warning =
                "message \(download.uniqueID) is \(received) octets, shorter than the \(download.size) "
                + "the server listed: stored, but left on the server in this session"
            logger.warning("\(warning)", metadata: ["account": "\(account.name)"])
            report.warnings.append(warning)
            return
        }
        toDelete.append((download.number, download.uniqueID))
    }

    private func failed(_ download: FetchPlan.Download, _ writer: any MessageWriter, _ failure: FetchFailure) {
        writer.discard()
        // An MDA that refuses one message may accept the next; a failing disk will not.
        record(failure, for: download, fatal: !(deliverer is MDADeliverer))
    }

    private func record(_ failure: FetchFailure, for download: FetchPlan.Download, fatal: Bool) {
        var failure = failure
        failure.uniqueID = failure.uniqueID ?? download.uniqueID
        report.errors.append(failure)
        if fatal { localWritesBroken = true }
    }
}
