// The output of the planner: what the executor does in this session.
public import MailCore

/// What to download, what to delete and what to leave alone, with reasons.
public struct FetchPlan: Hashable, Sendable, Codable {
    /// A message to download.
    public struct Download: Hashable, Sendable, Codable {
        public enum Mode: String, Hashable, Sendable, Codable {
            /// `RETR` (RFC 1939 §5).
            case full
            /// `TOP n 0` (RFC 1939 §7): the header only.
            case headersOnly
        }
        public enum Reason: String, Hashable, Sendable, Codable {
            /// Never seen before.
            case new
            /// The unique id is in the state but names a different message now (see
            /// `FetchPlanner`, "Unique-id reuse").
            case uniqueIDReused
            /// Stored headers-only earlier; the size limit now allows the whole message.
            case sizeLimitLifted
            /// Stored earlier, but shorter than its `LIST` size (the server cut it short): downloaded
            /// again to replace that copy (`FetchStateEntry.shortCopy`).
            case shortCopy
        }
        public var number: Int
        public var uniqueID: UniqueID
        public var size: Int
        public var mode: Mode
        public var reason: Reason
        /// The generation for the local name (see `FetchStateEntry.generation`).
        public var generation: Int
        /// First-download time to record: the earlier one for a completed headers-only message.
        public var firstDownloaded: Int64?
        /// Delete on the server in this session once stored and recorded.
        public var deleteAfterStoring: Bool
        /// An interrupted run handed this message to a delivery command (MDA) and did not learn
        /// whether it was accepted: delivering it now may make a duplicate.
        public var mayDuplicate: Bool

        /// Whether the download stands in for a copy already stored (so it replaces it).
        public var replacesEarlierCopy: Bool {
            reason == .sizeLimitLifted || reason == .shortCopy
        }

        public init(
            number: Int,
            uniqueID: UniqueID,
            size: Int,
            mode: Mode,
            reason: Reason,
            generation: Int,
            firstDownloaded: Int64? = nil,
            deleteAfterStoring: Bool,
            mayDuplicate: Bool = false
        ) {
            self.number = number
            self.uniqueID = uniqueID
            self.size = size
            self.mode = mode
            self.reason = reason
            self.generation = generation
            self.firstDownloaded = firstDownloaded
            self.deleteAfterStoring = deleteAfterStoring
            self.mayDuplicate = mayDuplicate
        }
    }

    /// A message stored earlier that is now deleted on the server.
    public struct Deletion: Hashable, Sendable, Codable {
        public enum Reason: String, Hashable, Sendable, Codable {
            /// Stored by an earlier run that did not get to delete it (interrupted): no orphans.
            case storedEarlier
            /// `keepDays` has passed since the first download.
            case keepPeriodExpired
            /// The local copy is gone (`deleteWhenDeletedLocally`).
            case deletedLocally
        }
        public var number: Int
        public var uniqueID: UniqueID
        public var reason: Reason

        public init(number: Int, uniqueID: UniqueID, reason: Reason) {
            self.number = number
            self.uniqueID = uniqueID
            self.reason = reason
        }
    }

    /// A message left alone.
    public struct Skip: Hashable, Sendable, Codable {
        public enum Reason: Hashable, Sendable, Codable {
            /// Already stored and the policy keeps it on the server.
            case alreadyDownloaded
            /// Kept until this time (seconds since 1970), `keepDays`.
            case keptUntil(Int64)
            /// Larger than the limit (`SizeLimitPolicy.skip`).
            case tooLarge(size: Int, maximumSize: Int)
            /// Stored headers-only; still larger than the limit, so neither completed nor deleted.
            case headersOnlyStored
            /// The server listed this unique id for several messages: none can be told apart, so
            /// none is downloaded or deleted.
            case duplicateUniqueID
            /// Recorded as downloaded without being stored here (`--mark-seen`, `--import-state`):
            /// never downloaded, and never deleted, since only what this client stored may be
            /// (DESIGN.md invariant 1).
            case notStoredHere
        }
        public var number: Int
        public var uniqueID: UniqueID
        public var reason: Reason

        public init(number: Int, uniqueID: UniqueID, reason: Reason) {
            self.number = number
            self.uniqueID = uniqueID
            self.reason = reason
        }
    }

    public var downloads: [Download]
    public var deletions: [Deletion]
    public var skips: [Skip]
    /// Unique ids in the state (status `stored`) that the server no longer lists.
    public var vanished: [UniqueID]
    /// Unique ids with status `goneFromServer` listed again with their recorded size while the
    /// local copy exists: the same message, planned as known; the executor marks them `stored`.
    public var reappeared: [UniqueID] = []
    /// Unconfirmed hand-overs (`FetchStateSnapshot.unconfirmedHandOvers`) of messages the server
    /// no longer lists: forgotten once the session ends with `QUIT`.
    public var settledHandOvers: [UniqueID] = []
    /// Things a person should know (unique-id reuse, duplicates). Never message content.
    public var warnings: [String]

    public init(
        downloads: [Download] = [],
        deletions: [Deletion] = [],
        skips: [Skip] = [],
        vanished: [UniqueID] = [],
        warnings: [String] = []
    ) {
        self.downloads = downloads
        self.deletions = deletions
        self.skips = skips
        self.vanished = vanished
        self.warnings = warnings
    }
}
