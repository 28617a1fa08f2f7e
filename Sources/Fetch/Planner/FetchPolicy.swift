// What the fetch engine does with a message on the server once it is stored locally.

/// When a downloaded message is deleted on the server.
///
/// The server only deletes in the UPDATE state after `QUIT` (RFC 1939 §6), so every policy
/// below is carried out by `DELE` in one session followed by a successful `QUIT`.
public enum DeletePolicy: Hashable, Sendable, Codable {
    /// Delete on the server as soon as the message is durably stored and recorded (the default).
    case deleteAfterDownload
    /// Never delete on the server.
    case keep
    /// Delete on the server this many days after the message was FIRST downloaded.
    /// Zero or less behaves as `deleteAfterDownload`.
    case keepDays(Int)
    /// Delete on the server once the locally stored copy is gone (the user deleted it).
    case deleteWhenDeletedLocally
}

/// What to do with messages larger than a limit (sizes as reported by `LIST`, RFC 1939 §5).
public enum SizeLimitPolicy: Hashable, Sendable, Codable {
    /// No limit.
    case unlimited
    /// Leave larger messages on the server untouched; they are downloaded once the limit allows.
    case skip(maximumSize: Int)
    /// Store only the header of larger messages (`TOP n 0`, RFC 1939 §7), mark them
    /// "headers-only" in the state, and download them fully once the limit allows.
    /// A headers-only message is never deleted on the server.
    case headersOnly(maximumSize: Int)

    /// The size above which the limit applies, if any.
    public var maximumSize: Int? {
        switch self {
        case .unlimited: return nil
        case .skip(let maximumSize), .headersOnly(let maximumSize): return maximumSize
        }
    }
}

/// The policy of one account.
public struct FetchPolicy: Hashable, Sendable, Codable {
    public var deletion: DeletePolicy
    public var sizeLimit: SizeLimitPolicy

    public init(deletion: DeletePolicy = .deleteAfterDownload, sizeLimit: SizeLimitPolicy = .unlimited) {
        self.deletion = deletion
        self.sizeLimit = sizeLimit
    }

    /// Whether a freshly stored (complete) message is deleted in the same session.
    var deletesRightAfterStoring: Bool {
        switch deletion {
        case .deleteAfterDownload: return true
        case .keepDays(let days): return days <= 0
        case .keep, .deleteWhenDeletedLocally: return false
        }
    }
}
