// One row of the per-account state: what we know about a message we have seen on the server.
public import MailCore

/// What the state records for one server message, keyed by its unique id (UIDL, RFC 1939 §7).
public struct FetchStateEntry: Hashable, Sendable, Codable {
    /// Where the message stands.
    public enum Status: String, Hashable, Sendable, Codable {
        /// Stored locally; as far as we know still on the server (not yet deleted, or kept).
        case stored
        /// We sent `DELE` and the server acknowledged `QUIT`: it is gone from the server.
        case deletedOnServer = "deleted"
        /// It vanished from the server without us deleting it (another client, server expiry).
        case goneFromServer = "gone"
    }

    /// The server's unique id (or, without UIDL support, a digest of the header; see
    /// `HeaderDigest`).
    public var uniqueID: UniqueID
    /// The size the server reported by `LIST` when we stored it; `nil` when unknown (imported).
    public var size: Int?
    /// When the message was first downloaded, in seconds since 1970 (UTC).
    public var firstDownloaded: Int64
    /// Where it is stored locally (a file path, `mbox:OFFSET`, `mda`); empty when unknown
    /// (imported from another program, or recorded by `--mark-seen`).
    public var location: String
    public var status: Status
    /// Only the header was stored (size limit, `SizeLimitPolicy.headersOnly`).
    public var headersOnly: Bool
    /// Bumped each time the server reuses this unique id for a different message, so the local
    /// name derived from (account, unique id, generation) differs from the earlier message's.
    public var generation: Int
    /// The stored copy is clearly shorter than the server's `LIST` size (`BodySize.isClearlyShort`):
    /// the server cut the message short. It never counts as stored for deletion: the message
    /// stays on the server and the next run downloads it again, replacing this copy.
    public var shortCopy: Bool

    public init(
        uniqueID: UniqueID,
        size: Int?,
        firstDownloaded: Int64,
        location: String,
        status: Status = .stored,
        headersOnly: Bool = false,
        generation: Int = 0,
        shortCopy: Bool = false
    ) {
        self.uniqueID = uniqueID
        self.size = size
        self.firstDownloaded = firstDownloaded
        self.location = location
        self.status = status
        self.headersOnly = headersOnly
        self.generation = generation
        self.shortCopy = shortCopy
    }
}

/// A message as the server lists it in this session.
public struct ServerMessage: Hashable, Sendable, Codable {
    /// The message number in this session (1-based, RFC 1939 §5).
    public var number: Int
    public var uniqueID: UniqueID
    /// The size in octets from `LIST`.
    public var size: Int

    public init(number: Int, uniqueID: UniqueID, size: Int) {
        self.number = number
        self.uniqueID = uniqueID
        self.size = size
    }
}
