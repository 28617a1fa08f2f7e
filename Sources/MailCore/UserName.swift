// The one set of rules for user names: the POP3 session, the account databases, LMTP
// recipients and the Maildir path template all check names here.

/// A user name that is safe everywhere PostOffice puts one: a POP3 `USER` argument, a
/// passwd-file key (`:` separates its fields), a log line, and a path component (`%u` in the
/// Maildir template).
///
/// Valid names are 1–255 UTF-8 octets (a file-name component is at most 255), are not `.`,
/// contain no `..`, and contain none of: space, `/`, `\`, `:`, C0 and C1 control characters,
/// DEL, U+2028 and U+2029.
public struct UserName: Hashable, Sendable, CustomStringConvertible {
    /// The longest accepted name, in UTF-8 octets.
    public static let maximumLength = 255

    /// The name as given.
    public let value: String

    /// `nil` when `name` breaks a rule.
    public init?(_ name: String) {
        guard Self.isValid(name) else { return nil }
        self.value = name
    }

    public var description: String { self.value }

    /// Whether `name` follows every rule.
    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        guard (1...Self.maximumLength).contains(bytes.count), name != "." else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            switch byte {
            case 0x00...0x20, 0x7F, UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: ":"):
                return false
            case UInt8(ascii: ".") where previous == UInt8(ascii: "."):
                return false
            default:
                previous = byte
            }
        }
        // Non-ASCII: C1 controls and the Unicode line and paragraph separators.
        guard bytes.contains(where: { $0 >= 0x80 }) else { return true }
        return !name.unicodeScalars.contains {
            (0x80...0x9F).contains($0.value) || $0.value == 0x2028 || $0.value == 0x2029
        }
    }
}
