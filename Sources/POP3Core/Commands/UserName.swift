// POP3Core: user name validation, before a name reaches an account database or the store.

/// Rules for user names: the store substitutes them into paths (`%u`), so anything that
/// could walk a directory tree or confuse a log line is refused.
public enum UserName {
    /// Longest name accepted, in UTF-8 octets.
    public static let maximumLength = 255

    /// True when `name` is 1–255 UTF-8 octets with no `/`, `\`, `..`, NUL, control or
    /// space characters, and is not `.`.
    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        guard (1...maximumLength).contains(bytes.count), name != "." else { return false }
        guard
            !bytes.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") })
        else { return false }
        // C1 controls and other non-printing scalars.
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return false }
        return !name.contains("..")
    }
}
