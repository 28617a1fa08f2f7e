// The pure planner: server listing + local state + policy + now -> plan. No I/O, no clock.
public import MailCore

/// Decides, for one session, what to download, what to delete on the server and what to skip.
///
/// Rules, per message the server lists (`UIDL` + `LIST`, RFC 1939 §7 and §5):
///
/// - **Unknown unique id**: download it (subject to the size limit). Delete it in the same
///   session if the policy deletes right after download.
/// - **Known, status `stored`**: it was stored by an earlier run. If the policy deletes after
///   download, delete it now: an earlier run was interrupted between storing and `QUIT`, and the
///   message must not be left behind (no orphans) nor fetched again (no replay). `keep` skips;
///   `keepDays(N)` deletes once N days have passed since the first download;
///   `deleteWhenDeletedLocally` deletes once the local copy is gone.
/// - **Headers-only**: completed when the limit allows, otherwise skipped; never deleted.
/// - **Short copy** (stored, but clearly shorter than its `LIST` size): never counts as stored
///   for deletion, whatever the policy; downloaded again (same generation, so the same local
///   name) to replace the short copy. A server that keeps cutting it short keeps it.
/// - **Unconfirmed hand-over** (an MDA run that ended before its outcome was recorded): the
///   message is delivered again, marked `mayDuplicate`: at most one duplicate, never a loss.
/// - **Unique-id reuse**: RFC 1939 §7 only promises that a unique id is not reused while the
///   message exists; servers that number their ids restart after messages are deleted. An id we
///   know is treated as a *different* message when either
///   1. it was gone from the server: we deleted it and the server confirmed `QUIT` (status
///      `deletedOnServer`), or an earlier listing no longer had it (status `goneFromServer`;
///      this also covers a crash between `QUIT` and recording the deletion), or
///   2. the server's size differs from the recorded one.
///   Exception to 1: an id with status `goneFromServer` that comes back with its recorded size
///   while its local copy still exists is the *same* message (a server that briefly listed a
///   partial maildrop); it is planned as known (`reappeared`), so `keep` makes no duplicate.
///   The executor marks ids `goneFromServer` only after a session that ended with `QUIT`.
///   Cost: after a crash between `QUIT` and recording our own deletion, a later reuse of that
///   id with exactly the same size while the local copy exists is taken for the stored message.
///   Such a message is downloaded again under a new *generation*, so its local name differs from
///   the earlier message's and a re-download after a crash still finds the same name.
///   Choice for case 2: a size change may also be a server that rewrote a message; we prefer a
///   possible extra copy (with a warning) over never delivering a new message that happens to
///   carry a recycled id. The earlier copy is never touched.
///   Known limit: if a run dies between the server's `QUIT` reply and recording the deletions,
///   and before the next run the server reuses an id for a message of exactly the same size,
///   that message is taken for the stored one. Every other reuse is caught.
/// - **The same unique id listed twice**: a broken server; those messages are skipped (never
///   downloaded nor deleted) with a warning.
///
/// Unique ids in the state with status `stored` that the server no longer lists are reported in
/// `vanished`, so the executor can mark them `goneFromServer`.
public enum FetchPlanner {
    /// Seconds in a day, for `keepDays`.
    static let secondsPerDay: Int64 = 86_400

    /// Computes the plan.
    ///
    /// - Parameters:
    ///   - serverMessages: the server's listing in this session.
    ///   - state: the account's state, keyed by unique id.
    ///   - policy: the account's policy.
    ///   - now: the current time in seconds since 1970.
    ///   - locallyMissing: unique ids whose recorded local copy no longer exists (consulted only
    ///     by `deleteWhenDeletedLocally`).
    ///   - locallyPresent: unique ids with status `goneFromServer` whose recorded local copy is
    ///     known to still exist; such an id listed again with its recorded size is the same
    ///     message (reported in `reappeared`), not a new one.
    ///   - unconfirmedHandOvers: unique ids an interrupted run handed to a delivery command
    ///     without recording the outcome; their downloads are marked `mayDuplicate`.
    public static func plan(
        serverMessages: [ServerMessage],
        state: [UniqueID: FetchStateEntry],
        policy: FetchPolicy,
        now: Int64,
        locallyMissing: Set<UniqueID> = [],
        locallyPresent: Set<UniqueID> = [],
        unconfirmedHandOvers: Set<UniqueID> = []
    ) -> FetchPlan {
        var plan = FetchPlan()
        var occurrences: [UniqueID: Int] = [:]
        for message in serverMessages {
            occurrences[message.uniqueID, default: 0] += 1
        }
        var duplicatesWarned: Set<UniqueID> = []

        for message in serverMessages {
            if occurrences[message.uniqueID, default: 0] > 1 {
                plan.skips.append(.init(number: message.number, uniqueID: message.uniqueID, reason: .duplicateUniqueID))
                if duplicatesWarned.insert(message.uniqueID).inserted {
                    plan.warnings.append(
                        "the server lists unique id \(message.uniqueID) for several messages; they are left on the server"
                    )
                }
                continue
            }
            guard let entry = state[message.uniqueID] else {
                planNew(message, reason: .new, generation: 0, policy: policy, into: &plan)
                continue
            }
            if entry.status == .goneFromServer, let recordedSize = entry.size, recordedSize == message.size,
                locallyPresent.contains(message.uniqueID)
            {
                // Missing from one listing (a server that briefly lists part of the maildrop),
                // back with the same size, and our copy is still there: the same message.
                plan.reappeared.append(message.uniqueID)
                var known = entry
                known.status = .stored
                planKnown(message, entry: known, policy: policy, now: now, locallyMissing: locallyMissing, into: &plan)
                continue
            }
            if entry.status != .stored {
                plan.warnings.append(
                    "unique id \(message.uniqueID) was gone from the server and is listed again: "
                        + "treated as a new message (the server reuses unique ids)"
                )
                planNew(message, reason: .uniqueIDReused, generation: entry.generation + 1, policy: policy, into: &plan)
                continue
            }
            if let recordedSize = entry.size, recordedSize != message.size {
                plan.warnings.append(
                    "unique id \(message.uniqueID) now has size \(message.size), recorded \(recordedSize): "
                        + "treated as a different message and downloaded again"
                )
                planNew(message, reason: .uniqueIDReused, generation: entry.generation + 1, policy: policy, into: &plan)
                continue
            }
            planKnown(message, entry: entry, policy: policy, now: now, locallyMissing: locallyMissing, into: &plan)
        }

        let listed = Set(serverMessages.map(\.uniqueID))
        plan.vanished = state.values
            .filter { $0.status == .stored && !listed.contains($0.uniqueID) }
            .map(\.uniqueID)
            .sorted()
        if !unconfirmedHandOvers.isEmpty {
            for index in plan.downloads.indices where unconfirmedHandOvers.contains(plan.downloads[index].uniqueID) {
                plan.downloads[index].mayDuplicate = true
            }
            plan.settledHandOvers = unconfirmedHandOvers.filter { !listed.contains($0) }.sorted()
        }
        return plan
    }

    private static func planNew(
        _ message: ServerMessage,
        reason: FetchPlan.Download.Reason,
        generation: Int,
        policy: FetchPolicy,
        into plan: inout FetchPlan
    ) {
        var mode = FetchPlan.Download.Mode.full
        if let maximum = policy.sizeLimit.maximumSize, message.size > maximum {
            switch policy.sizeLimit {
            case .skip:
                plan.skips.append(
                    .init(
                        number: message.number,
                        uniqueID: message.uniqueID,
                        reason: .tooLarge(size: message.size, maximumSize: maximum)
                    )
                )
                return
            case .headersOnly:
                mode = .headersOnly
            case .unlimited:
                break
            }
        }
        plan.downloads.append(
            .init(
                number: message.number,
                uniqueID: message.uniqueID,
                size: message.size,
                mode: mode,
                reason: reason,
                generation: generation,
                deleteAfterStoring: mode == .full && policy.deletesRightAfterStoring
            )
        )
    }

    private static func planKnown(
        _ message: ServerMessage,
        entry: FetchStateEntry,
        policy: FetchPolicy,
        now: Int64,
        locallyMissing: Set<UniqueID>,
        into plan: inout FetchPlan
    ) {
        if entry.headersOnly {
            let fits = policy.sizeLimit.maximumSize.map { message.size <= $0 } ?? true
            if fits {
                plan.downloads.append(
                    .init(
                        number: message.number,
                        uniqueID: message.uniqueID,
                        size: message.size,
                        mode: .full,
                        reason: .sizeLimitLifted,
                        generation: entry.generation,
                        firstDownloaded: entry.firstDownloaded,
                        deleteAfterStoring: policy.deletesRightAfterStoring
                    )
                )
            } else {
                plan.skips.append(.init(number: message.number, uniqueID: message.uniqueID, reason: .headersOnlyStored))
            }
            return
        }
        if entry.shortCopy {
            // The server cut it short when we stored it: that copy must not let the server's go.
            plan.warnings.append(
                "message \(message.uniqueID) was stored shorter than its \(message.size) octets: "
                    + "downloading it again to replace that copy"
            )
            plan.downloads.append(
                .init(
                    number: message.number,
                    uniqueID: message.uniqueID,
                    size: message.size,
                    mode: .full,
                    reason: .shortCopy,
                    generation: entry.generation,
                    firstDownloaded: entry.firstDownloaded,
                    deleteAfterStoring: policy.deletesRightAfterStoring
                )
            )
            return
        }
        // Marked as seen or imported from another fetcher: that copy is not ours to vouch for,
        // so the server's copy stays whatever the policy (invariant 1: delete only what this
        // client durably stored and recorded).
        guard !entry.location.isEmpty else {
            plan.skips.append(.init(number: message.number, uniqueID: message.uniqueID, reason: .notStoredHere))
            return
        }
        switch policy.deletion {
        case .deleteAfterDownload:
            plan.deletions.append(.init(number: message.number, uniqueID: message.uniqueID, reason: .storedEarlier))
        case .keep:
            plan.skips.append(.init(number: message.number, uniqueID: message.uniqueID, reason: .alreadyDownloaded))
        case .keepDays(let days):
            let until = entry.firstDownloaded + Int64(max(days, 0)) * secondsPerDay
            if now >= until {
                let reason: FetchPlan.Deletion.Reason = days <= 0 ? .storedEarlier : .keepPeriodExpired
                plan.deletions.append(.init(number: message.number, uniqueID: message.uniqueID, reason: reason))
            } else {
                plan.skips.append(.init(number: message.number, uniqueID: message.uniqueID, reason: .keptUntil(until)))
            }
        case .deleteWhenDeletedLocally:
            if locallyMissing.contains(message.uniqueID) {
                plan.deletions.append(
                    .init(number: message.number, uniqueID: message.uniqueID, reason: .deletedLocally)
                )
            } else {
                plan.skips.append(.init(number: message.number, uniqueID: message.uniqueID, reason: .alreadyDownloaded))
            }
        }
    }
}
