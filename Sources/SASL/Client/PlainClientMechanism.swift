// Client side of PLAIN (RFC 4616).

/// The client side of PLAIN: sends `NUL user NUL password` with an empty authorization identity.
///
/// The message goes in the initial response. If the caller could not send it there (RFC 5034 §4
/// forbids an `AUTH` line longer than 255 octets), it answers the server's empty challenge instead.
///
/// - SeeAlso: [RFC 4616 §2](https://datatracker.ietf.org/doc/html/rfc4616#section-2)
public struct PlainClientMechanism: SASLClientMechanism {
    private let user: String
    private let password: String
    private var answeredChallenge = false

    public var name: SASLMechanismName { .plain }

    /// Creates a mechanism for one exchange.
    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    public mutating func initialResponse() throws -> [UInt8]? {
        try message()
    }

    public mutating func respond(to challenge: [UInt8]) throws -> [UInt8] {
        // RFC 4616 §2 has exactly one client message; the only challenge allowed is the empty one
        // that asks for it when there was no initial response.
        guard challenge.isEmpty, !answeredChallenge else { throw SASLClientError.unexpectedChallenge(name) }
        answeredChallenge = true
        return try message()
    }

    public func verifyCompletion() throws {}

    private func message() throws -> [UInt8] {
        guard !user.isEmpty, !password.isEmpty else {
            throw SASLClientError.invalidCredentialCharacters("PLAIN needs a non-empty user name and password")
        }
        guard !user.utf8.contains(0), !password.utf8.contains(0) else {
            throw SASLClientError.invalidCredentialCharacters("PLAIN cannot carry NUL")
        }
        return [0] + Array(user.utf8) + [0] + Array(password.utf8)
    }
}
