// Client side of XOAUTH2, the OAuth 2.0 mechanism of Google and Microsoft mail servers.

/// The client side of XOAUTH2: `user=U ^A auth=Bearer T ^A ^A`.
///
/// ``initialResponse()`` returns nil, so the token goes on a continuation line after the
/// server's empty challenge: Microsoft's POP3 servers require this two-line form, and it keeps
/// a long token out of the 255-octet `AUTH` line (RFC 5034 §4). When the token is refused the
/// server sends a JSON error as a challenge; the answer is an empty response, after which the
/// server fails the exchange.
///
/// - SeeAlso: [Google's XOAUTH2 protocol](https://developers.google.com/gmail/imap/xoauth2-protocol)
public struct XOAUTH2ClientMechanism: SASLClientMechanism {
    private enum State: Hashable, Sendable {
        case initial
        case sentToken
        case acknowledgedError
    }

    private let user: String
    private let token: String
    private var state: State = .initial

    public var name: SASLMechanismName { .xoauth2 }

    /// Creates a mechanism for one exchange with an OAuth 2.0 access token.
    public init(user: String, token: String) {
        self.user = user
        self.token = token
    }

    public mutating func initialResponse() throws -> [UInt8]? { nil }

    public mutating func respond(to challenge: [UInt8]) throws -> [UInt8] {
        switch state {
        case .initial:
            let message = try OAuthPayload.xoauth2(user: user, token: token)
            state = .sentToken
            return message
        case .sentToken:
            // The challenge is a JSON error; answer empty so the server can finish with -ERR.
            state = .acknowledgedError
            return []
        case .acknowledgedError:
            throw SASLClientError.unexpectedChallenge(name)
        }
    }

    public func verifyCompletion() throws {}
}
