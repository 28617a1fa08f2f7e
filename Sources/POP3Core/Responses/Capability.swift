// POP3Core: CAPA tags (RFC 2449 §5–6, RFC 2595 §4, RFC 5034 §3, RFC 3206 §6, RFC 6856).

/// One line of a `CAPA` response.
///
/// - SeeAlso: [RFC 2449 §6](https://datatracker.ietf.org/doc/html/rfc2449#section-6)
public enum Capability: Hashable, Sendable, CustomStringConvertible {
    /// `TOP` (RFC 2449 §6.1).
    case top
    /// `USER`: USER/PASS is accepted on this connection (RFC 2449 §6.2).
    case user
    /// `SASL mech...`: the mechanisms `AUTH` accepts now (RFC 2449 §6.3, RFC 5034 §3).
    case sasl([String])
    /// `RESP-CODES` (RFC 2449 §6.4).
    case respCodes
    /// `LOGIN-DELAY n [USER]`: minimum seconds between logins (RFC 2449 §6.5).
    case loginDelay(seconds: Int, perUser: Bool)
    /// `PIPELINING` (RFC 2449 §6.6).
    case pipelining
    /// `EXPIRE NEVER|days [USER]`: `days == nil` means NEVER (RFC 2449 §6.7).
    case expire(days: Int?, perUser: Bool)
    /// `UIDL` (RFC 2449 §6.8).
    case uidl
    /// `IMPLEMENTATION text` (RFC 2449 §6.9).
    case implementation(String)
    /// `STLS` (RFC 2595 §4).
    case stls
    /// `AUTH-RESP-CODE` (RFC 3206 §6).
    case authRespCode
    /// `UTF8 [USER]` (RFC 6856 §2).
    case utf8(user: Bool)
    /// Any other tag, upper-cased, with its parameters.
    case other(name: String, parameters: [String])

    /// Parses one capability line (without CRLF). Tags are case-insensitive; a line that
    /// does not fit a known tag's grammar becomes ``other(name:parameters:)``.
    public init(parsing line: String) {
        let words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let first = words.first else {
            self = .other(name: "", parameters: [])
            return
        }
        let name = first.uppercased()
        let parameters = Array(words.dropFirst())
        let fallback = Capability.other(name: name, parameters: parameters)
        switch (name, parameters.count) {
        case ("TOP", 0): self = .top
        case ("USER", 0): self = .user
        case ("SASL", _): self = .sasl(parameters.map { $0.uppercased() })
        case ("RESP-CODES", 0): self = .respCodes
        case ("PIPELINING", 0): self = .pipelining
        case ("UIDL", 0): self = .uidl
        case ("STLS", 0): self = .stls
        case ("AUTH-RESP-CODE", 0): self = .authRespCode
        case ("IMPLEMENTATION", _):
            // Free text: keep it as written after the tag.
            let text = line.drop { $0 != " " }.drop { $0 == " " }
            self = .implementation(String(text))
        case ("LOGIN-DELAY", 1...2):
            guard let seconds = Int(parameters[0]), seconds >= 0,
                parameters.count == 1 || parameters[1].uppercased() == "USER"
            else {
                self = fallback
                return
            }
            self = .loginDelay(seconds: seconds, perUser: parameters.count == 2)
        case ("EXPIRE", 1...2):
            guard parameters.count == 1 || parameters[1].uppercased() == "USER" else {
                self = fallback
                return
            }
            if parameters[0].uppercased() == "NEVER" {
                self = .expire(days: nil, perUser: parameters.count == 2)
            } else if let days = Int(parameters[0]), days >= 0 {
                self = .expire(days: days, perUser: parameters.count == 2)
            } else {
                self = fallback
            }
        case ("UTF8", 0): self = .utf8(user: false)
        case ("UTF8", 1) where parameters[0].uppercased() == "USER": self = .utf8(user: true)
        default: self = fallback
        }
    }

    /// The line as sent in a CAPA response, without CRLF.
    public var description: String {
        switch self {
        case .top: return "TOP"
        case .user: return "USER"
        case .sasl(let mechanisms): return (["SASL"] + mechanisms).joined(separator: " ")
        case .respCodes: return "RESP-CODES"
        case .loginDelay(let seconds, let perUser): return "LOGIN-DELAY \(seconds)" + (perUser ? " USER" : "")
        case .pipelining: return "PIPELINING"
        case .expire(let days, let perUser):
            return "EXPIRE " + (days.map(String.init) ?? "NEVER") + (perUser ? " USER" : "")
        case .uidl: return "UIDL"
        case .implementation(let text): return "IMPLEMENTATION \(text)"
        case .stls: return "STLS"
        case .authRespCode: return "AUTH-RESP-CODE"
        case .utf8(let user): return user ? "UTF8 USER" : "UTF8"
        case .other(let name, let parameters): return ([name] + parameters).joined(separator: " ")
        }
    }

    /// The line as sent in a CAPA response, without CRLF (same as ``description``).
    public var encoded: String { description }
}
