// What a client session reports after each response part.

public import struct NIOCore.ByteBuffer

/// The meaning of a response part, given the command it answers.
public enum ClientSessionEvent: Hashable, Sendable {
    /// The server's greeting (RFC 1939 §4). The session is in AUTHORIZATION if it was `+OK`.
    case greeting(Response)
    /// The final (or only) status line for `command`: a single-line response, a `-ERR` to a
    /// command with a multi-line reply, or the outcome of `AUTH`.
    case completed(Command, Response)
    /// `+OK` to a command with a multi-line reply: lines or content follow.
    case multiLineStarted(Command, Response)
    /// One listing line of the reply to `command` (`LIST`, `UIDL`, `CAPA`), unstuffed.
    case line(Command, ByteBuffer)
    /// Message content of the reply to `command` (`RETR`, `TOP`), unstuffed.
    case content(Command, ByteBuffer)
    /// The multi-line reply to `command` ended.
    case multiLineCompleted(Command)
    /// A decoded SASL challenge (RFC 5034 §4): answer with exactly one response line.
    case saslChallenge([UInt8])
    /// `+OK` to `STLS` (RFC 2595 §4): start TLS now, after checking that nothing else was sent.
    case startTLS
}
