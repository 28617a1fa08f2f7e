// Server side of LOGIN (draft-murchison-sasl-login): two prompts, user name then password.

/// The server side of the obsolete but widespread LOGIN mechanism.
///
///     C: AUTH LOGIN
///     S: + VXNlcm5hbWU6            ("Username:")
///     C: dGlt
///     S: + UGFzc3dvcmQ6            ("Password:")
///     C: dGFuc3RhYWZ0YW5zdGFhZg==
///
/// A client may send the user name as the initial response; the server then asks only for
/// the password.
///
/// - SeeAlso: [draft-murchison-sasl-login](https://datatracker.ietf.org/doc/html/draft-murchison-sasl-login-00)
public struct LoginServerMechanism: SASLServerMechanism {
    /// The first challenge, `Username:`.
    public static let userNamePrompt: [UInt8] = Array("Username:".utf8)
    /// The second challenge, `Password:`.
    public static let passwordPrompt: [UInt8] = Array("Password:".utf8)

    private enum State: Hashable, Sendable {
        case initial
        case awaitingUserName
        case awaitingPassword(user: String)
        case awaitingVerification(user: String)
        case finished
    }

    private var state: State = .initial

    public var name: SASLMechanismName { .login }

    /// Creates a mechanism for one exchange.
    public init() {}

    public mutating func start(initialResponse: [UInt8]?) -> SASLServerAction {
        guard case .initial = state else { return fail(.malformed("exchange already started")) }
        guard let initialResponse else {
            state = .awaitingUserName
            return .challenge(Self.userNamePrompt)
        }
        return handleUserName(initialResponse)
    }

    public mutating func received(response: [UInt8]) -> SASLServerAction {
        switch state {
        case .awaitingUserName:
            return handleUserName(response)
        case .awaitingPassword(let user):
            guard !response.isEmpty else { return fail(.malformed("empty password")) }
            guard !response.contains(0), String(validating: response, as: UTF8.self) != nil else {
                return fail(.malformed("password is not NUL-free UTF-8"))
            }
            state = .awaitingVerification(user: user)
            return .verifyPassword(authenticationID: user, authorizationID: nil, password: response)
        case .initial, .awaitingVerification, .finished:
            return fail(.malformed("unexpected response"))
        }
    }

    public mutating func passwordVerified(_ ok: Bool) -> SASLServerAction {
        guard case .awaitingVerification(let user) = state else {
            return fail(.malformed("no password check pending"))
        }
        state = .finished
        return ok ? .success(user: user) : .failure(.authenticationFailed)
    }

    public mutating func credentialsLookedUp(_ credentials: SCRAMCredentials?) -> SASLServerAction {
        fail(.malformed("LOGIN does not use SCRAM credentials"))
    }

    private mutating func handleUserName(_ bytes: [UInt8]) -> SASLServerAction {
        guard !bytes.isEmpty else { return fail(.malformed("empty user name")) }
        guard !bytes.contains(0), let user = String(validating: bytes, as: UTF8.self) else {
            return fail(.malformed("user name is not NUL-free UTF-8"))
        }
        state = .awaitingPassword(user: user)
        return .challenge(Self.passwordPrompt)
    }

    private mutating func fail(_ failure: SASLServerFailure) -> SASLServerAction {
        state = .finished
        return .failure(failure)
    }
}
