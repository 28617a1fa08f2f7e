// Parsed pieces of a server response, as the client reads them.

public import struct NIOCore.ByteBuffer

/// `+OK` or `-ERR` (RFC 1939 §3).
public enum ResponseStatus: Hashable, Sendable {
    case ok
    case err
}

/// One piece of a server response, in the order read from the wire.
///
/// A single-line response is one `.status`. A multi-line response is `.status(.ok, ...)`, then
/// `.multiLineLine` or `.multiLineBytes` parts, then `.multiLineEnd`. During SASL the server sends
/// `.saslChallenge` parts before the final `.status`.
public enum ClientResponsePart: Hashable, Sendable {
    /// A status line. `code` is the RFC 2449 §8 response code without brackets (`IN-USE`,
    /// `SYS/TEMP`), `text` the rest of the line after it.
    case status(ResponseStatus, code: String?, text: String)
    /// One line of a listing (`LIST`, `UIDL`, `CAPA`), without CRLF and unstuffed.
    case multiLineLine(ByteBuffer)
    /// Message content (`RETR`, `TOP`), unstuffed, CRLF kept.
    case multiLineBytes(ByteBuffer)
    /// The terminating ".CRLF" of a multi-line body.
    case multiLineEnd
    /// The base64 text of a `+` continuation line (RFC 5034 §4), not yet decoded.
    case saslChallenge(String)
}

/// A response the client cannot make sense of: the connection must not be used further.
public struct ResponseParserError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong, for people; it never quotes message content.
    public var hint: String
    public init(hint: String) { self.hint = hint }
    public var description: String { "malformed response: \(self.hint)" }
}
