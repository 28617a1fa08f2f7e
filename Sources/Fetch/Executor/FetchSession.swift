// One POP3 session of an account: list, plan, download and store, only then DELE, QUIT.
import Logging
import MailCore

/// Carries out a plan in one session. Lives on the fetching task; everything that blocks goes
/// to the account's `StoreWorker`.
///
/// The order is the invariant (DESIGN.md, invariants 1 and 2): a message is deleted on the
/// server only after it is stored, fsynced and recorded, and only by a `QUIT` the server
/// confirmed; a crash at any point leaves either nothing (downloaded again under the same
/// derived name) or a copy the next run finds (or, for a command, a recorded hand-over).
struct FetchSession {
    let account: FetchAccount
    let options: FetchOptions
    let worker: StoreWorker
    let capabilities: DeliveryCapabilities
    var report: AccountReport
    /// The points after the storing steps (`deleSent`, `quit`); the worker counts the others.
    var faults: FaultCounter
    /// Messages to delete, in order.
    var toDelete: [(number: Int, uniqueID: UniqueID)] = []
    /// How many of `toDelete` were sent `DELE` already.
    var deletionsSent = 0
    /// Set when storing failed in a way that would fail again (disk full).
    var localWritesBroken = false
    /// Messages received whole, to store together (`startStoringGroup()`), and their held octets.
    var group: [ReceivedWhole] = []
    var groupBytes = 0
    /// The group the worker is storing while the next one is received (at most one at a time).
    var storing: GroupBeingStored?

    init(
        account: FetchAccount,
        options: FetchOptions,
        worker: StoreWorker,
        capabilities: DeliveryCapabilities,
        report: AccountReport
    ) {
        self.account = account
        self.options = options
        self.worker = worker
        self.capabilities = capabilities
        self.report = report
        self.faults = FaultCounter(options.faults)
    }

    var shouldStop: Bool { options.stop.isStopRequested || localWritesBroken }

    mutating func run(_ source: any MailSource) async throws {
        let serverMessages = try await SessionListing.read(source, into: &report)
        if options.markSeen {
            let now = options.clock.now()
            report.markedSeen += try await worker.recordIfAbsent(
                serverMessages.map {
                    FetchStateEntry(uniqueID: $0.uniqueID, size: $0.size, firstDownloaded: now, location: "")
                }
            )
            try await source.quit()
            return
        }
        let plan = FetchPlanner.plan(
            serverMessages: serverMessages,
            inputs: try await worker.plannerInputs(),
            policy: account.policy,
            now: options.clock.now()
        )
        report.warnings += plan.warnings
        report.skipped += plan.skips.count
        try await worker.markReappeared(plan.reappeared)
        toDelete = plan.deletions.map { ($0.number, $0.uniqueID) }

        let downloads = try await resolveEarlierCopies(plan.downloads)
        let full = downloads.filter { $0.download.mode == .full }
        let headers = downloads.filter { $0.download.mode == .headersOnly }
        options.progress?(
            .planned(
                account: account.name,
                messages: downloads.count,
                bytes: full.reduce(0) { total, item in
                    let (sum, overflow) = total.addingReportingOverflow(item.download.size)
                    return overflow ? Int.max : sum
                }
            )
        )
        if !full.isEmpty && !shouldStop {
            try await retrieve(full, from: source)
        }
        for item in headers where !shouldStop {
            try await fetchHeaders(item, from: source)
        }
        if shouldStop && options.stop.isStopRequested {
            report.interrupted = true
        }

        try await sendDeletions(source)
        try await source.quit()
        try faults.reached(.quit)
        // Only a session the server completed says what the maildrop holds: a listing of a run
        // that failed may have been partial (and then the message comes back).
        try await worker.sessionCompleted(plan: plan, deleted: toDelete.map(\.uniqueID))
        report.deleted += toDelete.count
    }

    /// `DELE` of the messages to delete not sent yet (pipelined): each is stored and recorded, or
    /// was by an earlier run. The server deletes them only at `QUIT` (RFC 1939 §6).
    mutating func sendDeletions(_ source: any MailSource) async throws {
        guard deletionsSent < toDelete.count else { return }
        let pending = toDelete[deletionsSent...]
        try await source.delete(pending.map(\.number))
        deletionsSent = toDelete.count
        for _ in pending {
            try faults.reached(.deleSent)
        }
    }

    /// A download and whether it replaces an earlier copy under its key.
    struct PlannedDownload: Sendable {
        var download: FetchPlan.Download
        var replacing: Bool
    }

    /// Copies an interrupted run stored are recorded instead of downloaded again, except a
    /// headers-only copy where the whole message is wanted: that one is replaced.
    private mutating func resolveEarlierCopies(_ downloads: [FetchPlan.Download]) async throws -> [PlannedDownload] {
        let earlier = try await worker.earlierCopies(of: downloads)
        var planned: [PlannedDownload] = []
        var recovered: [FetchStateEntry] = []
        for download in downloads {
            if download.mayDuplicate {
                report.warnings.append(
                    "message \(download.uniqueID) was handed to the delivery command by an interrupted run "
                        + "that did not learn the outcome: delivered again, so it may arrive twice "
                        + "(both copies carry X-PostOffice-UIDL: \(download.uniqueID))"
                )
                report.possibleDuplicates += 1
            }
            guard let copy = earlier[download.uniqueID] else {
                planned.append(PlannedDownload(download: download, replacing: download.replacesEarlierCopy))
                continue
            }
            if copy.headersOnly {
                // An interrupted headers-only run (smaller limit then): that header is not the
                // message; download it whole and replace the header copy.
                planned.append(PlannedDownload(download: download, replacing: true))
                continue
            }
            recovered.append(entry(download, location: copy.location, received: nil))
            if download.deleteAfterStoring {
                toDelete.append((download.number, download.uniqueID))
            }
        }
        try await worker.recover(recovered)
        report.recovered += recovered.count
        return planned
    }

    /// The state entry of a stored download; `received` (octets, for `RETR`) flags a short copy.
    func entry(_ download: FetchPlan.Download, location: String, received: Int?) -> FetchStateEntry {
        FetchStateEntry(
            uniqueID: download.uniqueID,
            size: download.size,
            firstDownloaded: download.firstDownloaded ?? options.clock.now(),
            location: location,
            status: .stored,
            headersOnly: download.mode == .headersOnly,
            generation: download.generation,
            shortCopy: received.map { BodySize.isClearlyShort(received: $0, listed: download.size) } ?? false
        )
    }

    func envelope(_ download: FetchPlan.Download) -> DeliveryEnvelope {
        DeliveryEnvelope(
            key: DeliveryKey(account: account.identity, uniqueID: download.uniqueID, generation: download.generation),
            serverHost: account.host,
            user: account.user,
            receivedAt: options.clock.now(),
            headersOnly: download.mode == .headersOnly,
            mayDuplicate: download.mayDuplicate
        )
    }
}
