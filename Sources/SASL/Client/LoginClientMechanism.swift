// Client side of LOGIN (draft-murchison-sasl-login).

/// The client side of LOGIN: answers the first challenge with the user name and the second
/// with the password. The prompt texts vary between servers, so only their order counts.
///
/// - SeeAlso: [draft-murchison-sasl-login](https://datatracker.ietf.org/doc/html/draft-murchison-sasl-login-00)
public struct LoginClientMechanism: SASLClientMechanism {
    private let user: String
    private let password: String
    private var challengesAnswered = 0

    public var name: SASLMechanismName { .login }

    /// Creates a mechanism for one exchange.
    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    public mutating func initialResponse() throws -> [UInt8]? { nil }

    public mutating func respond(to challenge: [UInt8]) throws -> [UInt8] {
        let answer: [UInt8]
        switch challengesAnswered {
        case 0: answer = try Self.checked(user, what: "user name")
        case 1: answer = try Self.checked(password, what: "password")
        default: throw SASLClientError.unexpectedChallenge(name)
        }
        challengesAnswered += 1
        return answer
    }

    public func verifyCompletion() throws {}

    private static func checked(_ value: String, what: String) throws -> [UInt8] {
        guard !value.isEmpty, !value.utf8.contains(0) else {
            throw SASLClientError.invalidCredentialCharacters("LOGIN needs a non-empty \(what) without NUL")
        }
        return Array(value.utf8)
    }
}
