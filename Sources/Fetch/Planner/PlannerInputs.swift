// What the planner needs besides the server's listing: the state (one read) and, where the
// policy needs it, which local copies are still there (one look at the target).
public import MailCore

/// The planner's local inputs, made from the state snapshot and the keys of the copies the
/// delivery target holds. Pure: no disk access per entry.
public struct PlannerInputs: Hashable, Sendable {
    /// The account's state, keyed by unique id.
    public var state: [UniqueID: FetchStateEntry]
    /// Unique ids whose recorded local copy is gone (for `deleteWhenDeletedLocally`).
    public var locallyMissing: Set<UniqueID>
    /// Unique ids with status `goneFromServer` whose recorded copy is still there.
    public var locallyPresent: Set<UniqueID>
    /// Unique ids an interrupted run handed to a delivery command without recording the outcome.
    public var unconfirmedHandOvers: Set<UniqueID>

    /// - Parameters:
    ///   - snapshot: the state as `FetchStateStore.snapshot()` read it.
    ///   - presentKeys: `DeliveryKey.hash`es of the copies the target holds; nil when the target
    ///     cannot tell (a command) or could not be looked at: then no copy counts as missing
    ///     (nothing is deleted for it) and none as present (an id that comes back is downloaded
    ///     again rather than taken for the earlier message).
    ///   - account: the account's identity (`FetchAccount.identity`), for the keys.
    public init(snapshot: FetchStateSnapshot, presentKeys: Set<String>?, account: String) {
        state = snapshot.entries
        unconfirmedHandOvers = snapshot.unconfirmedHandOvers
        locallyMissing = []
        locallyPresent = []
        guard let presentKeys else { return }
        for entry in snapshot.entries.values where !entry.location.isEmpty {
            guard entry.status == .goneFromServer || (entry.status == .stored && !entry.headersOnly) else { continue }
            let key = DeliveryKey(account: account, uniqueID: entry.uniqueID, generation: entry.generation)
            let present = presentKeys.contains(key.hash)
            if entry.status == .goneFromServer, present {
                locallyPresent.insert(entry.uniqueID)
            } else if entry.status == .stored, !present {
                locallyMissing.insert(entry.uniqueID)
            }
        }
    }

    /// Whether working these out needs the target's keys: only a policy that deletes what was
    /// deleted here, or ids the server stopped listing, ask which copies remain.
    public static func needsPresentKeys(_ snapshot: FetchStateSnapshot, policy: FetchPolicy) -> Bool {
        policy.deletion == .deleteWhenDeletedLocally
            || snapshot.entries.values.contains { $0.status == .goneFromServer && !$0.location.isEmpty }
    }
}

extension FetchPlanner {
    /// `plan(serverMessages:state:policy:now:locallyMissing:locallyPresent:unconfirmedHandOvers:)`
    /// with the local inputs in one value.
    public static func plan(
        serverMessages: [ServerMessage],
        inputs: PlannerInputs,
        policy: FetchPolicy,
        now: Int64
    ) -> FetchPlan {
        plan(
            serverMessages: serverMessages,
            state: inputs.state,
            policy: policy,
            now: now,
            locallyMissing: inputs.locallyMissing,
            locallyPresent: inputs.locallyPresent,
            unconfirmedHandOvers: inputs.unconfirmedHandOvers
        )
    }
}
