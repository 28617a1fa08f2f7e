// Typed results of the transaction commands.

public import MailCore
public import NIOCore

/// One line of a `LIST` reply (RFC 1939 §5): a message and its size in octets.
public struct POP3ListEntry: Sendable, Hashable {
    public var number: Int
    public var size: Int
    public init(number: Int, size: Int) {
        self.number = number
        self.size = size
    }
}

/// One line of a `UIDL` reply (RFC 1939 §7): a message and its unique id.
public struct POP3UIDLEntry: Sendable, Hashable {
    public var number: Int
    public var uniqueID: UniqueID
    public init(number: Int, uniqueID: UniqueID) {
        self.number = number
        self.uniqueID = uniqueID
    }
}

/// What `retrieve` and `top` hand to their consumer, in order: `begin`, `bytes`..., `end` per message.
public enum RetrieveEvent: Sendable {
    /// A message starts.
    case begin(number: Int)
    /// Message bytes, dot-unstuffed, exactly as the server sent them (CRLF line ends).
    case bytes(ByteBuffer)
    /// The message ended.
    case end(number: Int)
}
