// POP3Core: message numbers (RFC 1939 §5).

/// A 1-based message number (RFC 1939 §5: "message-number ... starting with 1").
///
/// Values are at most `Int32.max`, so any number a client sends either names a message or
/// is rejected without arithmetic overflow anywhere.
public struct MessageNumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The largest number accepted.
    public static let maximum = Int(Int32.max)

    /// The number, 1 for the first message.
    public let value: Int

    /// `nil` for 0, negative numbers and numbers above ``maximum``.
    public init?(exactly value: Int) {
        guard value >= 1, value <= Self.maximum else { return nil }
        self.value = value
    }

    /// The message number of the message at a 0-based snapshot index.
    public init?(index: Int) {
        self.init(exactly: index + 1)
    }

    /// The 0-based snapshot index.
    public var index: Int { value - 1 }

    public var description: String { String(value) }

    public static func < (lhs: MessageNumber, rhs: MessageNumber) -> Bool { lhs.value < rhs.value }
}

extension MessageNumber: ExpressibleByIntegerLiteral {
    /// For tests and literals only: traps on 0 or a negative literal.
    public init(integerLiteral value: Int) {
        guard let number = MessageNumber(exactly: value) else {
            preconditionFailure("invalid message number literal \(value)")
        }
        self = number
    }
}
