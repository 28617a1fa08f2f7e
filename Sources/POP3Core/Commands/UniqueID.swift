// POP3Core: unique-id listings (RFC 1939 §7, UIDL).

/// A message's unique-id: 1 to 70 characters in 0x21–0x7E (RFC 1939 §7, UIDL).
public struct UniqueID: Hashable, Sendable, CustomStringConvertible {
    /// The id as sent on the wire.
    public let rawValue: String

    /// `nil` unless `rawValue` is 1–70 characters, each in 0x21–0x7E.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue.utf8) else { return nil }
        self.rawValue = rawValue
    }

    /// Whether these bytes form a valid unique-id.
    public static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        guard (1...70).contains(bytes.count) else { return false }
        return bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }

    public var description: String { rawValue }
}
