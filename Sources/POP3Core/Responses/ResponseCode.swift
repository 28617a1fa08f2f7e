// POP3Core: extended response codes (RFC 2449 §8, RFC 3206).

/// A response code in brackets after the status indicator: `-ERR [IN-USE] ...`.
///
/// Codes are hierarchical, levels separated by `/` (RFC 2449 §8); comparison is
/// case-insensitive, so parsing upper-cases.
public enum ResponseCode: Hashable, Sendable, CustomStringConvertible {
    /// `IN-USE`: the maildrop is locked by another session.
    /// - SeeAlso: [RFC 2449 §8.1.1](https://datatracker.ietf.org/doc/html/rfc2449#section-8.1.1)
    case inUse
    /// `LOGIN-DELAY`: the user logs in too often.
    /// - SeeAlso: [RFC 2449 §8.1.2](https://datatracker.ietf.org/doc/html/rfc2449#section-8.1.2)
    case loginDelay
    /// `SYS/TEMP`: a temporary system failure; trying again later may succeed.
    /// - SeeAlso: [RFC 3206 §4](https://datatracker.ietf.org/doc/html/rfc3206#section-4)
    case sysTemp
    /// `SYS/PERM`: a permanent system failure.
    /// - SeeAlso: [RFC 3206 §4](https://datatracker.ietf.org/doc/html/rfc3206#section-4)
    case sysPerm
    /// `AUTH`: the credentials are wrong or not acceptable (for example cleartext on an
    /// unencrypted link).
    /// - SeeAlso: [RFC 3206 §5](https://datatracker.ietf.org/doc/html/rfc3206#section-5)
    case auth
    /// `UTF8`: the response concerns UTF-8 mode.
    /// - SeeAlso: [RFC 6856 §2](https://datatracker.ietf.org/doc/html/rfc6856#section-2)
    case utf8
    /// Any other code, upper-cased, levels joined with `/`.
    case other(String)

    /// Parses the text between the brackets, case-insensitively.
    public init(_ text: String) {
        let upper = String(text.uppercased())
        switch upper {
        case "IN-USE": self = .inUse
        case "LOGIN-DELAY": self = .loginDelay
        case "SYS/TEMP": self = .sysTemp
        case "SYS/PERM": self = .sysPerm
        case "AUTH": self = .auth
        case "UTF8": self = .utf8
        default: self = .other(upper)
        }
    }

    /// The code as written between the brackets.
    public var rawValue: String {
        switch self {
        case .inUse: return "IN-USE"
        case .loginDelay: return "LOGIN-DELAY"
        case .sysTemp: return "SYS/TEMP"
        case .sysPerm: return "SYS/PERM"
        case .auth: return "AUTH"
        case .utf8: return "UTF8"
        case .other(let text): return text
        }
    }

    /// The levels of the code: `["SYS", "TEMP"]`.
    public var levels: [Substring] { rawValue.split(separator: "/", omittingEmptySubsequences: false) }

    public var description: String { "[\(rawValue)]" }
}
