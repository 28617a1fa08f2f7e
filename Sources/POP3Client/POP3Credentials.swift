// How the client logs in.

public import SASL

/// The credentials and the way to present them.
///
/// - SeeAlso: [RFC 1939 §7](https://datatracker.ietf.org/doc/html/rfc1939#section-7) (USER/PASS,
///   APOP), [RFC 5034](https://datatracker.ietf.org/doc/html/rfc5034) (AUTH).
public enum POP3Credentials: Sendable {
    /// `USER` and `PASS`.
    case userPass(user: String, password: String)
    /// `APOP`: MD5 of the greeting's timestamp and the password. Only when asked for.
    case apop(user: String, password: String)
    /// `AUTH` with a password mechanism: PLAIN, LOGIN, SCRAM-SHA-256.
    case sasl(mechanism: SASLMechanismName, user: String, password: String)
    /// `AUTH` with an OAuth 2.0 token: XOAUTH2, OAUTHBEARER. The token goes on a continuation line.
    case oauth(mechanism: SASLMechanismName, user: String, token: String)
    /// SCRAM-SHA-256 if offered, else PLAIN, else USER/PASS.
    case automatic(user: String, password: String)

    /// The user name, for logs.
    var user: String {
        switch self {
        case .userPass(let user, _), .apop(let user, _), .sasl(_, let user, _), .oauth(_, let user, _),
            .automatic(let user, _):
            return user
        }
    }
}
