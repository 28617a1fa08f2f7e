// Which user names we accept. The name becomes a path component (`%u` in the Maildir template),
// so this runs before any path is built.

/// User-name rules shared by the passwd-file reader, the editor and the server.
public enum UserName {
    /// The longest accepted name, in UTF-8 bytes (a file-name component is at most 255 bytes).
    public static let maximumLength = 255

    /// True when `name` is safe to use as an account name and a path component: not empty, at most
    /// 255 UTF-8 bytes, no `/`, no `..`, no `:` (the passwd-file separator), no NUL or other
    /// control character, and not `.` alone.
    public static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        guard !bytes.isEmpty, bytes.count <= maximumLength, name != "." else { return false }
        guard !name.contains("..") else { return false }
        for scalar in name.unicodeScalars {
            switch scalar.value {
            case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: return false
            case UInt32(UInt8(ascii: "/")), UInt32(UInt8(ascii: ":")): return false
            default: continue
            }
        }
        return true
    }
}
