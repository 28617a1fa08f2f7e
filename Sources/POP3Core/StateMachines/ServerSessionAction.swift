// POP3Core: what the server session asks its I/O shell to do (GUIDE B5).
public import MailCore

extension ServerSession {
    /// One instruction for the I/O shell. The shell performs it and feeds the outcome back
    /// through the matching input (`authenticationSucceeded`, `maildropOpened`, ...).
    public enum Action: Hashable, Sendable {
        /// Nothing to do; read the next line.
        case wait
        /// Write this status line.
        case send(Response)
        /// Write a status line, then the listing's lines dot-stuffed, then `.CRLF` (RFC 1939 §3);
        /// ``ListingEncoder`` writes the lines straight into bytes.
        case sendListing(Response, Listing)
        /// Write `+ base64(bytes)` (RFC 5034 §4) and read a SASL response line.
        case sendContinuation([UInt8])
        /// Write `header`, then stream message `index` (0-based) through a
        /// ``DotStuffingEncoder`` with this body line limit (nil: the whole message), then call
        /// ``ServerSession/messageStreamFinished(index:octets:wholeMessage:)``.
        case streamMessage(index: Int, header: Response, bodyLineLimit: Int?)
        /// Check a USER/PASS password, then call `authenticationSucceeded` or `authenticationFailed`.
        case verifyPassword(user: String, password: [UInt8])
        /// Check an APOP digest: MD5(timestamp + secret) in lower-case hex (RFC 1939 §7).
        case verifyAPOP(user: String, digest: String, timestamp: String)
        /// Create the SASL mechanism and start it; feed its challenges to
        /// ``ServerSession/saslChallenge(_:)`` and its outcome to `authenticationSucceeded`/`Failed`.
        case startSASL(mechanism: String, initialResponse: [UInt8]?)
        /// Give this client response to the running SASL mechanism.
        case stepSASL([UInt8])
        /// Count a failed login without asking anyone (bad user name, cleartext refused while
        /// a password was sent ...): delay and log as for any failure, then call
        /// `authenticationFailed(.invalidCredentials)`.
        case rejectLogin(user: String?, mechanism: String, reason: String)
        /// Open the user's maildrop, then call `maildropOpened` or `maildropOpenFailed`; or, when
        /// the account logged in too recently (RFC 2449 §6.5), call `loginDelayed` instead.
        case openMaildrop(user: String, mechanism: String)
        /// STLS accepted (RFC 2595 §4). Atomically on the event loop: if input bytes are
        /// buffered beyond the STLS line, write nothing; otherwise write `response` in
        /// plaintext and install TLS. Then call ``ServerSession/stlsRequested(bufferedBytes:)``.
        case startTLS(Response)
        /// Enter UPDATE (RFC 1939 §6): remove these messages (0-based indices: those marked by
        /// DELE and those the retention policy expires after RETR), then call
        /// ``ServerSession/deletionsCommitted(success:)``.
        case commitDeletions([Int])
        /// Write this line, then close the connection (no deletions).
        case sendAndClose(Response)
        /// Close the connection at once (no deletions).
        case close
    }

    /// Why a login failed, as the shell reports it.
    public enum AuthenticationFailure: Hashable, Sendable {
        /// Wrong user or password, or a failed SASL exchange (RFC 3206 `[AUTH]`).
        case invalidCredentials
        /// The account database failed (RFC 3206 `[SYS/TEMP]`); not counted as a failure.
        case temporary
        /// The client broke the SASL exchange (bad syntax); counted as a failure.
        case malformed
        /// The client cancelled with `*`; not counted (RFC 5034 §4).
        case cancelled
        /// The shell has no such mechanism after all.
        case mechanismUnavailable
    }

    /// Why a maildrop could not be opened.
    public enum MaildropFailure: Hashable, Sendable {
        /// Another session holds it (RFC 2449 §8.1.1 `[IN-USE]`).
        case inUse
        /// I/O trouble; try later (RFC 3206 `[SYS/TEMP]`).
        case temporary
        /// It cannot be opened at all (RFC 3206 `[SYS/PERM]`).
        case permanent
    }

    /// One message of the maildrop snapshot as the session needs it.
    public struct MessageInfo: Hashable, Sendable {
        /// Octets with CRLF line ends, before stuffing (RFC 1939 §5).
        public var size: Int
        /// The unique-id (RFC 1939 §7).
        public var uniqueID: UniqueID
        /// The retention policy removes the message at UPDATE if this session RETRieves it
        /// (RFC 2449 §6.7: it is past the account's EXPIRE days, or EXPIRE is 0).
        public var expiresOnRetrieval: Bool
        public init(size: Int, uniqueID: UniqueID, expiresOnRetrieval: Bool = false) {
            self.size = size
            self.uniqueID = uniqueID
            self.expiresOnRetrieval = expiresOnRetrieval
        }
    }

    /// What the session did, for the logout log line.
    public struct Statistics: Hashable, Sendable {
        public var user: String?
        public var mechanism: String?
        public var retrieved = 0
        /// Messages removed at UPDATE, those of ``expired`` included.
        public var deleted = 0
        /// Messages removed at UPDATE by the retention policy rather than DELE.
        public var expired = 0
        public var bytesSent = 0
        public init() {}
    }
}
