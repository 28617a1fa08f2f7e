import MailCore
import Testing

@testable import Fetch

private let day: Int64 = 86_400
private let t0: Int64 = 1_700_000_000

private func msg(_ number: Int, _ uid: UniqueID, _ size: Int = 100) -> ServerMessage {
    ServerMessage(number: number, uniqueID: uid, size: size)
}

private func stored(
    _ uid: UniqueID,
    size: Int? = 100,
    at time: Int64 = t0,
    status: FetchStateEntry.Status = .stored,
    headersOnly: Bool = false,
    generation: Int = 0,
    location: String = "/m/x",
    shortCopy: Bool = false
) -> (UniqueID, FetchStateEntry) {
    (
        uid,
        FetchStateEntry(
            uniqueID: uid,
            size: size,
            firstDownloaded: time,
            location: location,
            status: status,
            headersOnly: headersOnly,
            generation: generation,
            shortCopy: shortCopy
        )
    )
}

@Suite("FetchPlanner")
struct FetchPlannerTests {
    static let allDeletePolicies: [DeletePolicy] = [
        .deleteAfterDownload, .keep, .keepDays(3), .keepDays(0), .deleteWhenDeletedLocally,
    ]

    @Test("new messages are downloaded; deleted right away only when the policy says so", arguments: allDeletePolicies)
    func newMessages(policy: DeletePolicy) {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "a"), msg(2, "b")],
            state: [:],
            policy: FetchPolicy(deletion: policy),
            now: t0
        )
        let expectDelete: Bool
        switch policy {
        case .deleteAfterDownload, .keepDays(0): expectDelete = true
        default: expectDelete = false
        }
        #expect(plan.downloads.map(\.number) == [1, 2])
        #expect(plan.downloads.allSatisfy { $0.mode == .full && $0.reason == .new && $0.generation == 0 })
        #expect(plan.downloads.allSatisfy { $0.deleteAfterStoring == expectDelete })
        #expect(plan.deletions.isEmpty)
        #expect(plan.skips.isEmpty)
        #expect(plan.warnings.isEmpty)
    }

    @Test(
        "a gone id listed again is the same message only with its size and a local copy",
        arguments: [(100, true, true), (101, true, false), (100, false, false)]
    )
    func reappearing(size: Int, present: Bool, same: Bool) {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "a", size)],
            state: Dictionary(uniqueKeysWithValues: [stored("a", status: .goneFromServer)]),
            policy: FetchPolicy(deletion: .keep),
            now: t0,
            locallyPresent: present ? ["a"] : []
        )
        if same {
            #expect(plan.downloads.isEmpty)
            #expect(plan.reappeared == ["a"])
            #expect(plan.skips == [.init(number: 1, uniqueID: "a", reason: .alreadyDownloaded)])
        } else {
            #expect(plan.reappeared.isEmpty)
            #expect(plan.downloads.map(\.generation) == [1])
            #expect(plan.downloads.map(\.reason) == [.uniqueIDReused])
        }
    }

    @Test("an empty server and an empty state plan nothing")
    func emptyServer() {
        let plan = FetchPlanner.plan(serverMessages: [], state: [:], policy: FetchPolicy(), now: t0)
        #expect(plan == FetchPlan())
    }

    @Test("a message stored by an interrupted run is deleted now, not downloaded again")
    func orphanDeleted() {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "a"), msg(2, "b")],
            state: Dictionary(uniqueKeysWithValues: [stored("a")]),
            policy: FetchPolicy(),
            now: t0
        )
        #expect(plan.deletions == [.init(number: 1, uniqueID: "a", reason: .storedEarlier)])
        #expect(plan.downloads.map(\.uniqueID) == ["b"])
    }

    @Test("keep: stored messages are skipped forever")
    func keep() {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "a")],
            state: Dictionary(uniqueKeysWithValues: [stored("a", at: t0 - 10_000 * day)]),
            policy: FetchPolicy(deletion: .keep),
            now: t0
        )
        #expect(plan.skips == [.init(number: 1, uniqueID: "a", reason: .alreadyDownloaded)])
        #expect(plan.deletions.isEmpty && plan.downloads.isEmpty)
    }

    @Test(
        "keepDays counts from the first download",
        arguments: [
            (Int64(0), false), (day, false), (3 * day - 1, false), (3 * day, true), (30 * day, true),
        ]
    )
    func keepDays(elapsed: Int64, expectDeleted: Bool) {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(4, "a")],
            state: Dictionary(uniqueKeysWithValues: [stored("a", at: t0)]),
            policy: FetchPolicy(deletion: .keepDays(3)),
            now: t0 + elapsed
        )
        if expectDeleted {
            #expect(plan.deletions == [.init(number: 4, uniqueID: "a", reason: .keepPeriodExpired)])
            #expect(plan.skips.isEmpty)
        } else {
            #expect(plan.deletions.isEmpty)
            #expect(plan.skips == [.init(number: 4, uniqueID: "a", reason: .keptUntil(t0 + 3 * day))])
        }
    }

    @Test("keepDays(0) deletes stored messages like the default policy")
    func keepZeroDays() {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "a")],
            state: Dictionary(uniqueKeysWithValues: [stored("a", at: t0)]),
            policy: FetchPolicy(deletion: .keepDays(0)),
            now: t0
        )
        #expect(plan.deletions == [.init(number: 1, uniqueID: "a", reason: .storedEarlier)])
    }

    @Test("deleteWhenDeletedLocally deletes only what is gone locally")
    func deletedLocally() {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "a"), msg(2, "b")],
            state: Dictionary(uniqueKeysWithValues: [stored("a"), stored("b")]),
            policy: FetchPolicy(deletion: .deleteWhenDeletedLocally),
            now: t0,
            locallyMissing: ["b"]
        )
        #expect(plan.deletions == [.init(number: 2, uniqueID: "b", reason: .deletedLocally)])
        #expect(plan.skips == [.init(number: 1, uniqueID: "a", reason: .alreadyDownloaded)])
    }

    @Test("the size limit skips large new messages, and they come once the limit is lifted")
    func sizeLimitSkip() {
        let server = [msg(1, "small", 10), msg(2, "big", 1000)]
        let limited = FetchPlanner.plan(
            serverMessages: server,
            state: [:],
            policy: FetchPolicy(sizeLimit: .skip(maximumSize: 100)),
            now: t0
        )
        #expect(limited.downloads.map(\.uniqueID) == ["small"])
        #expect(limited.skips == [.init(number: 2, uniqueID: "big", reason: .tooLarge(size: 1000, maximumSize: 100))])
        // Nothing about "big" is recorded, so without the limit it is downloaded.
        let lifted = FetchPlanner.plan(
            serverMessages: server,
            state: Dictionary(uniqueKeysWithValues: [stored("small", size: 10)]),
            policy: FetchPolicy(),
            now: t0
        )
        #expect(lifted.downloads.map(\.uniqueID) == ["big"])
        #expect(lifted.deletions.map(\.uniqueID) == ["small"])
    }

    @Test("a message exactly at the limit is not too large")
    func sizeLimitBoundary() {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "a", 100)],
            state: [:],
            policy: FetchPolicy(sizeLimit: .skip(maximumSize: 100)),
            now: t0
        )
        #expect(plan.downloads.count == 1)
    }

    @Test("headers-only: large messages fetch the header and are never deleted until completed")
    func headersOnly() {
        let policy = FetchPolicy(deletion: .deleteAfterDownload, sizeLimit: .headersOnly(maximumSize: 100))
        let first = FetchPlanner.plan(serverMessages: [msg(1, "big", 1000)], state: [:], policy: policy, now: t0)
        #expect(first.downloads.count == 1)
        #expect(first.downloads[0].mode == .headersOnly)
        #expect(first.downloads[0].deleteAfterStoring == false)

        let state = Dictionary(uniqueKeysWithValues: [stored("big", size: 1000, headersOnly: true)])
        let again = FetchPlanner.plan(serverMessages: [msg(1, "big", 1000)], state: state, policy: policy, now: t0)
        #expect(again.skips == [.init(number: 1, uniqueID: "big", reason: .headersOnlyStored)])
        #expect(again.deletions.isEmpty && again.downloads.isEmpty)

        let lifted = FetchPlanner.plan(
            serverMessages: [msg(1, "big", 1000)],
            state: state,
            policy: FetchPolicy(deletion: .deleteAfterDownload),
            now: t0 + day
        )
        #expect(
            lifted.downloads == [
                .init(
                    number: 1,
                    uniqueID: "big",
                    size: 1000,
                    mode: .full,
                    reason: .sizeLimitLifted,
                    generation: 0,
                    firstDownloaded: t0,
                    deleteAfterStoring: true
                )
            ]
        )
        #expect(lifted.deletions.isEmpty)
    }

    @Test("headers-only entries are not deleted by keepDays either")
    func headersOnlyKeepDays() {
        let state = Dictionary(uniqueKeysWithValues: [stored("big", size: 1000, at: t0, headersOnly: true)])
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "big", 1000)],
            state: state,
            policy: FetchPolicy(deletion: .keepDays(1), sizeLimit: .headersOnly(maximumSize: 10)),
            now: t0 + 100 * day
        )
        #expect(plan.deletions.isEmpty)
        #expect(plan.skips.map(\.reason) == [.headersOnlyStored])
    }

    @Test("an id we deleted on the server and see again is a new message of the next generation")
    func reuseAfterOurDeletion() {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "1", 100)],
            state: Dictionary(uniqueKeysWithValues: [stored("1", size: 100, status: .deletedOnServer, generation: 2)]),
            policy: FetchPolicy(),
            now: t0
        )
        #expect(plan.downloads.count == 1)
        #expect(plan.downloads[0].reason == .uniqueIDReused)
        #expect(plan.downloads[0].generation == 3)
        #expect(plan.downloads[0].deleteAfterStoring)
        #expect(plan.warnings.count == 1)
    }

    @Test(
        "a known id with a different size is downloaded again as another generation",
        arguments: [FetchStateEntry.Status.stored, .goneFromServer]
    )
    func reuseBySize(status: FetchStateEntry.Status) {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "x", 250)],
            state: Dictionary(uniqueKeysWithValues: [stored("x", size: 100, status: status)]),
            policy: FetchPolicy(deletion: .keep),
            now: t0
        )
        #expect(plan.downloads.map(\.generation) == [1])
        #expect(plan.downloads.map(\.reason) == [.uniqueIDReused])
        #expect(plan.deletions.isEmpty)
        #expect(plan.warnings.count == 1)
    }

    @Test("an imported entry without a size is trusted")
    func importedWithoutSize() {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "x", 250)],
            state: Dictionary(uniqueKeysWithValues: [stored("x", size: nil, location: "")]),
            policy: FetchPolicy(deletion: .keep),
            now: t0
        )
        #expect(plan.downloads.isEmpty)
        #expect(plan.skips.map(\.reason) == [.notStoredHere])
    }

    @Test(
        "marked or imported messages are never deleted on the server, whatever the policy",
        arguments: [DeletePolicy.deleteAfterDownload, .keepDays(0), .deleteWhenDeletedLocally, .keep]
    )
    func notStoredHereIsNeverDeleted(policy: DeletePolicy) {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "x", 250), msg(2, "y", 300)],
            state: Dictionary(uniqueKeysWithValues: [
                stored("x", size: nil, location: ""), stored("y", size: 300, location: ""),
            ]),
            policy: FetchPolicy(deletion: policy),
            now: t0 + 1000 * 86_400,
            locallyMissing: ["x", "y"]
        )
        #expect(plan.downloads.isEmpty)
        #expect(plan.deletions.isEmpty)
        #expect(plan.skips.map(\.reason) == [.notStoredHere, .notStoredHere])
    }

    @Test("an id that vanished and comes back, even with the same size, is a new message")
    func goneAndBack() {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "x", 100)],
            state: Dictionary(uniqueKeysWithValues: [stored("x", size: 100, status: .goneFromServer, generation: 1)]),
            policy: FetchPolicy(deletion: .keep),
            now: t0
        )
        #expect(plan.downloads.map(\.generation) == [2])
        #expect(plan.downloads.map(\.reason) == [.uniqueIDReused])
        #expect(plan.skips.isEmpty)
    }

    @Test("duplicate unique ids on the server are neither downloaded nor deleted", arguments: allDeletePolicies)
    func duplicates(policy: DeletePolicy) {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "d"), msg(2, "ok"), msg(3, "d")],
            state: Dictionary(uniqueKeysWithValues: [stored("d")]),
            policy: FetchPolicy(deletion: policy),
            now: t0 + 100 * day,
            locallyMissing: ["d"]
        )
        #expect(plan.downloads.map(\.uniqueID) == ["ok"])
        #expect(plan.deletions.isEmpty)
        #expect(plan.skips.map(\.number) == [1, 3])
        #expect(plan.skips.allSatisfy { $0.reason == .duplicateUniqueID })
        #expect(plan.warnings.count == 1)
    }

    @Test("stored entries the server no longer lists are reported as vanished")
    func vanished() {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "a")],
            state: Dictionary(uniqueKeysWithValues: [
                stored("a"), stored("z"), stored("y"), stored("old", status: .deletedOnServer),
                stored("g", status: .goneFromServer),
            ]),
            policy: FetchPolicy(deletion: .keep),
            now: t0
        )
        #expect(plan.vanished == ["y", "z"])
    }

    @Test(
        "a short copy never counts as stored for deletion: downloaded again, same generation",
        arguments: allDeletePolicies
    )
    func shortCopyIsDownloadedAgain(deletion: DeletePolicy) throws {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "a"), msg(2, "b")],
            state: Dictionary(uniqueKeysWithValues: [
                stored("a", at: t0 - 30 * day, generation: 2, shortCopy: true), stored("b"),
            ]),
            policy: FetchPolicy(deletion: deletion),
            now: t0,
            // Even "deleted locally" does not let the server's copy go for a short one.
            locallyMissing: ["a"]
        )
        let download = try #require(plan.downloads.first)
        #expect(plan.downloads.count == 1)
        #expect(download.uniqueID == "a")
        #expect(download.reason == .shortCopy)
        #expect(download.mode == .full)
        #expect(download.generation == 2)
        #expect(download.firstDownloaded == t0 - 30 * day)
        #expect(download.replacesEarlierCopy)
        #expect(download.deleteAfterStoring == FetchPolicy(deletion: deletion).deletesRightAfterStoring)
        #expect(!plan.deletions.contains { $0.uniqueID == "a" })
        #expect(plan.warnings.contains { $0.contains("shorter") })
    }

    @Test("an unconfirmed hand-over marks the download a possible duplicate; unlisted ones are settled")
    func unconfirmedHandOvers() {
        let plan = FetchPlanner.plan(
            serverMessages: [msg(1, "a"), msg(2, "b")],
            state: [:],
            policy: FetchPolicy(),
            now: t0,
            unconfirmedHandOvers: ["a", "gone"]
        )
        #expect(plan.downloads.map(\.uniqueID) == ["a", "b"])
        #expect(plan.downloads.map(\.mayDuplicate) == [true, false])
        #expect(plan.settledHandOvers == ["gone"])
    }

    @Test("planner inputs: one snapshot and the target's keys, no disk access per entry")
    func plannerInputs() {
        let identity = "alice@pop.example.org"
        func hash(_ uid: UniqueID, _ generation: Int = 0) -> String {
            DeliveryKey(account: identity, uniqueID: uid, generation: generation).hash
        }
        let snapshot = FetchStateSnapshot(
            entries: Dictionary(uniqueKeysWithValues: [
                stored("here"), stored("gone-locally"), stored("back", status: .goneFromServer, generation: 1),
                stored("back-missing", status: .goneFromServer), stored("seen", location: ""),
                stored("header", headersOnly: true),
            ]),
            unconfirmedHandOvers: ["h"]
        )
        let inputs = PlannerInputs(
            snapshot: snapshot,
            presentKeys: [hash("here"), hash("back", 1), hash("header")],
            account: identity
        )
        #expect(inputs.locallyMissing == ["gone-locally"])
        #expect(inputs.locallyPresent == ["back"])
        #expect(inputs.unconfirmedHandOvers == ["h"])
        #expect(inputs.state == snapshot.entries)
        // A target that cannot tell: nothing missing, nothing present.
        let blind = PlannerInputs(snapshot: snapshot, presentKeys: nil, account: identity)
        #expect(blind.locallyMissing.isEmpty && blind.locallyPresent.isEmpty)
        #expect(PlannerInputs.needsPresentKeys(snapshot, policy: FetchPolicy(deletion: .keep)))
        #expect(
            !PlannerInputs.needsPresentKeys(
                FetchStateSnapshot(entries: Dictionary(uniqueKeysWithValues: [stored("x")])),
                policy: FetchPolicy(deletion: .keep)
            )
        )
    }

    /// Every combination of state shape x policy x size limit: the safety rules hold.
    @Test("safety: nothing is deleted that is not stored complete; nothing complete is downloaded twice")
    func exhaustiveSafety() {
        let statuses: [FetchStateEntry.Status?] = [nil, .stored, .deletedOnServer, .goneFromServer]
        let limits: [SizeLimitPolicy] = [.unlimited, .skip(maximumSize: 150), .headersOnly(maximumSize: 150)]
        let sizes = [100, 200]
        for status in statuses {
            for headersOnly in [false, true] {
                for recordedSize in [Int?.none, 100, 200] {
                    for serverSize in sizes {
                        for deletion in Self.allDeletePolicies {
                            for limit in limits {
                                for (missing, short) in [(false, false), (true, false), (false, true), (true, true)] {
                                    var state: [UniqueID: FetchStateEntry] = [:]
                                    if let status {
                                        state["u"] =
                                            stored(
                                                "u",
                                                size: recordedSize,
                                                status: status,
                                                headersOnly: headersOnly,
                                                shortCopy: short && !headersOnly
                                            ).1
                                    }
                                    let plan = FetchPlanner.plan(
                                        serverMessages: [msg(1, "u", serverSize)],
                                        state: state,
                                        policy: FetchPolicy(deletion: deletion, sizeLimit: limit),
                                        now: t0 + 10 * day,
                                        locallyMissing: missing ? ["u"] : []
                                    )
                                    // Exactly one decision per message.
                                    #expect(plan.downloads.count + plan.deletions.count + plan.skips.count == 1)
                                    // Deleted only if a complete copy is recorded and it is the same message.
                                    if !plan.deletions.isEmpty {
                                        let entry = try! #require(state["u"])  // safe: deletions need an entry
                                        #expect(entry.status == .stored)
                                        #expect(!entry.headersOnly)
                                        #expect(!entry.shortCopy)
                                        #expect(entry.size == nil || entry.size == serverSize)
                                    }
                                    // A complete copy of the same message is never downloaded again.
                                    if let entry = state["u"], entry.status == .stored, !entry.headersOnly,
                                        !entry.shortCopy, entry.size == nil || entry.size == serverSize
                                    {
                                        #expect(plan.downloads.isEmpty)
                                    }
                                    // Headers-only downloads are never deleted in the session.
                                    for download in plan.downloads where download.mode == .headersOnly {
                                        #expect(!download.deleteAfterStoring)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
