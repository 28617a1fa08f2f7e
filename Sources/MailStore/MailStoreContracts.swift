// Cross-module contract for mail storage. The store knows nothing of POP3.
public import MailCore
public import NIOCore

/// One message in a maildrop snapshot.
public struct MaildropMessage: Hashable, Sendable {
    /// Stable across sessions and restarts, unique in the maildrop (RFC 1939 §7, UIDL).
    public var uniqueID: UniqueID
    /// Octets the message has with CRLF line ends, before dot-stuffing (RFC 1939 §5).
    public var size: Int
    /// When the message arrived in this maildrop, in seconds since 1970; `nil` when the store
    /// cannot tell. Retention (RFC 2449 §6.7 EXPIRE) counts a message's age from it.
    public var arrival: Int?
    public init(uniqueID: UniqueID, size: Int, arrival: Int? = nil) {
        self.uniqueID = uniqueID
        self.size = size
        self.arrival = arrival
    }
}

extension Maildrop {
    /// The indices of the messages that arrived at or before `cutoff` (seconds since 1970): those
    /// older than a retention period. A message whose arrival is unknown is never among them.
    public func indices(arrivedAtOrBefore cutoff: Int) -> [Int] {
        self.messages.indices.filter { index in
            self.messages[index].arrival.map { $0 <= cutoff } ?? false
        }
    }
}

public enum MailStoreError: Error, Hashable, Sendable {
    /// Another live session holds the maildrop.
    case inUse
    /// A silent session's maildrop was taken over by a newer login.
    case takenOver
    /// No such user / invalid user name.
    case noSuchUser(String)
    /// An I/O failure; temporary from the client's point of view.
    case io(String)
}

/// Opens maildrops and delivers mail.
public protocol MailStore: Sendable {
    /// Locks (across processes) and snapshots the user's maildrop. Throws `.inUse` when a live
    /// session holds it; a session silent for longer than `takeoverAfter` seconds is taken over.
    func openMaildrop(user: String) async throws -> any Maildrop
    /// Delivers one message atomically; returns the stored file's unique name.
    func deliver(user: String, message: [UInt8]) async throws -> String
}

/// A locked maildrop with a snapshot taken at open. Mail that arrives later is not in it.
public protocol Maildrop: AnyObject, Sendable {
    /// The snapshot, in message-number order (index 0 is message 1).
    var messages: [MaildropMessage] { get }
    /// Streams the stored bytes of message `index` (as on disk, LF or CRLF) in bounded chunks,
    /// read off the event loop. `body` is awaited for each chunk (backpressure).
    func readContent(at index: Int, _ body: (ByteBuffer) async throws -> Void) async throws
    /// Applies the UPDATE state: removes these messages. Missing files are not an error.
    func commitDeletions(_ indices: [Int]) async throws
    /// Records activity, so the session is not taken over. Throws `.takenOver` when it was.
    func touch() async throws
    /// Calls `handler` once, promptly (within seconds, from any thread), when a newer session
    /// takes this silent one over — in this process or another — so the server can close the
    /// connection without waiting for the client to speak. Not called after `close()`.
    func whenTakenOver(_ handler: @escaping @Sendable () -> Void)
    /// Releases the lock. Idempotent.
    func close() async
}
