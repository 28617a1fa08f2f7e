// The one set of rules for POP3 unique-ids (RFC 1939 §7, UIDL): the protocol, the stores, the
// fetch client and the state-file importers all check ids here.

/// A message's unique-id: 1 to 70 characters in 0x21–0x7E (RFC 1939 §7, UIDL).
///
/// The checks work on UTF-8 bytes, so a non-ASCII character (two or more bytes, each 0x80 or
/// above) is refused without looking at characters. A store that already guarantees the rules
/// for every id it lists (a Maildir listing derives them, PostgreSQL checks them in a column
/// constraint) wraps its strings with ``init(unchecked:)``, which costs nothing.
public struct UniqueID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The longest unique-id, in characters (RFC 1939 §7).
    public static let maximumLength = 70

    /// The id as sent on the wire.
    public let rawValue: String

    /// `nil` unless `rawValue` is 1–70 characters, each in 0x21–0x7E.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue.utf8) else { return nil }
        self.rawValue = rawValue
    }

    /// `nil` unless `bytes` are 1–70 bytes, each in 0x21–0x7E.
    public init?(bytes: some Collection<UInt8>) {
        guard Self.isValid(bytes) else { return nil }
        self.rawValue = String(decoding: bytes, as: UTF8.self)
    }

    /// Wraps an id the caller already knows to be valid (a store that checked it when it was
    /// written); the rules are checked only in debug builds. Inlinable, so a listing of
    /// 100,000 messages wraps its strings at no cost.
    @inlinable
    public init(unchecked rawValue: String) {
        assert(Self.isValid(rawValue.utf8), "invalid unique-id \(rawValue)")
        self.rawValue = rawValue
    }

    /// Whether these bytes form a valid unique-id: 1–70 bytes, each in 0x21–0x7E.
    @inlinable
    public static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        guard (1...Self.maximumLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }

    public var description: String { self.rawValue }

    /// Byte order (the ids are ASCII).
    public static func < (lhs: UniqueID, rhs: UniqueID) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension UniqueID: ExpressibleByStringLiteral {
    /// For tests and literals only: traps on a literal that breaks the rules.
    public init(stringLiteral value: String) {
        guard let id = UniqueID(value) else {
            preconditionFailure("invalid unique-id literal \(value)")
        }
        self = id
    }
}

extension UniqueID: Codable {
    /// Decodes a string and checks the rules: a saved plan or report cannot smuggle in an id
    /// the wire would refuse.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = UniqueID(text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "not a unique-id (RFC 1939 §7: 1 to 70 characters in 0x21–0x7E)"
            )
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }
}
