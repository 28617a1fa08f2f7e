// The few POP3 calls the executor needs, abstracted so it can run against an in-memory fake.
import NIOCore
public import POP3Client

// The session's results are the client's own types (the fake in the tests builds them too).

/// One `LIST` line (RFC 1939 §5).
public typealias SourceListEntry = POP3ListEntry
/// One `UIDL` line (RFC 1939 §7).
public typealias SourceUIDLEntry = POP3UIDLEntry
/// Streamed message content: for each message `begin`, `bytes`…, `end`, in order.
public typealias SourceEvent = RetrieveEvent

/// An authenticated POP3 session in the TRANSACTION state (RFC 1939 §5).
///
/// Deletions take effect only when `quit()` succeeds (the UPDATE state, RFC 1939 §6); a session
/// that ends any other way deletes nothing. The executor relies on that.
public protocol MailSource: Sendable {
    /// `LIST`.
    func list() async throws -> [SourceListEntry]
    /// `UIDL`, or nil when the server does not support it.
    func uidl() async throws -> [SourceUIDLEntry]?
    /// `RETR` of each listed message in order, pipelined when the server allows (paced by the
    /// listed sizes); `body` is awaited per event. `shouldSend` is asked before more commands go
    /// out: once it says no, nothing more is asked for, and the replies to what was already
    /// asked still arrive through `body` before the call returns.
    func retrieve(
        _ messages: [SourceListEntry],
        sendingWhile shouldSend: () -> Bool,
        _ body: (SourceEvent) async throws -> Void
    ) async throws
    /// `TOP number lines`.
    func top(_ number: Int, lines: Int, _ body: (SourceEvent) async throws -> Void) async throws
    /// `DELE` for each number.
    func delete(_ numbers: [Int]) async throws
    /// `QUIT`: the server applies the deletions. Throws if it could not.
    func quit() async throws
}

/// Opens sessions for an account.
public protocol MailSourceConnector: Sendable {
    /// Connects, authenticates, runs `body`, and closes. When `body` throws the connection is
    /// closed without `QUIT`, so the server deletes nothing. Errors are `FetchFailure`s
    /// classified as authentication, tls or network where possible.
    func withSource<R: Sendable>(_ body: (any MailSource) async throws -> R) async throws -> R
}
