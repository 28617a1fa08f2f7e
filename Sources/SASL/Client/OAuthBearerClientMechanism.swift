// Client side of OAUTHBEARER (RFC 7628).

/// The client side of OAUTHBEARER with a bearer token (RFC 6750):
/// `n,a=user,^Ahost=H^Aport=P^Aauth=Bearer T^A^A`, `host` and `port` only when given.
///
/// ``initialResponse()`` returns nil, so the token goes on a continuation line after the
/// server's empty challenge (see ``XOAUTH2ClientMechanism`` for why). When the server answers
/// with an error (a JSON challenge), the client sends a single `^A` (RFC 7628 §3.2.3) so the
/// server can end the exchange with `-ERR`.
///
/// - SeeAlso: [RFC 7628 §3.1](https://datatracker.ietf.org/doc/html/rfc7628#section-3.1)
public struct OAuthBearerClientMechanism: SASLClientMechanism {
    private enum State: Hashable, Sendable {
        case initial
        case sentToken
        case acknowledgedError
    }

    private let user: String
    private let token: String
    private let host: String?
    private let port: Int?
    private var state: State = .initial

    public var name: SASLMechanismName { .oauthBearer }

    /// Creates a mechanism for one exchange.
    /// - Parameters:
    ///   - user: the authorization identity put in the GS2 header (`a=`).
    ///   - token: the OAuth 2.0 bearer access token.
    ///   - host: the host name the client connected to, sent as `host=` (RFC 7628 §3.1).
    ///   - port: the destination port, sent as `port=` (RFC 7628 §3.1).
    public init(user: String, token: String, host: String? = nil, port: Int? = nil) {
        self.user = user
        self.token = token
        self.host = host
        self.port = port
    }

    public mutating func initialResponse() throws -> [UInt8]? { nil }

    public mutating func respond(to challenge: [UInt8]) throws -> [UInt8] {
        switch state {
        case .initial:
            let message = try OAuthPayload.oauthBearer(user: user, token: token, host: host, port: port)
            state = .sentToken
            return message
        case .sentToken:
            // RFC 7628 §3.2.3: after an error message the client sends a single %x01.
            state = .acknowledgedError
            return [OAuthPayload.separator]
        case .acknowledgedError:
            throw SASLClientError.unexpectedChallenge(name)
        }
    }

    public func verifyCompletion() throws {}
}
