// Server side of PLAIN (RFC 4616): one message `[authzid] NUL authcid NUL passwd`.

/// The server side of the PLAIN mechanism.
///
/// The exchange is one client message (sent as the initial response, or after an empty
/// challenge), then a password check by the caller:
///
///     C: AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm
///     (caller checks "tim" / "tanstaaftanstaaf")
///     S: +OK
///
/// Only an empty authorization identity, or one equal to the authentication identity, is
/// accepted: we do not support proxy authorization.
///
/// - SeeAlso: [RFC 4616 §2](https://datatracker.ietf.org/doc/html/rfc4616#section-2)
public struct PlainServerMechanism: SASLServerMechanism {
    private enum State: Hashable, Sendable {
        case initial
        case awaitingResponse
        case awaitingVerification(user: String)
        case finished
    }

    private var state: State = .initial

    public var name: SASLMechanismName { .plain }

    /// Creates a mechanism for one exchange.
    public init() {}

    public mutating func start(initialResponse: [UInt8]?) -> SASLServerAction {
        guard case .initial = state else { return fail(.malformed("exchange already started")) }
        guard let initialResponse else {
            // RFC 4616 §2: the server sends an empty challenge when there is no initial response.
            state = .awaitingResponse
            return .challenge([])
        }
        return handleMessage(initialResponse)
    }

    public mutating func received(response: [UInt8]) -> SASLServerAction {
        guard case .awaitingResponse = state else { return fail(.malformed("unexpected response")) }
        return handleMessage(response)
    }

    public mutating func passwordVerified(_ ok: Bool) -> SASLServerAction {
        guard case .awaitingVerification(let user) = state else {
            return fail(.malformed("no password check pending"))
        }
        state = .finished
        return ok ? .success(user: user) : .failure(.authenticationFailed)
    }

    public mutating func credentialsLookedUp(_ credentials: SCRAMCredentials?) -> SASLServerAction {
        fail(.malformed("PLAIN does not use SCRAM credentials"))
    }

    private mutating func handleMessage(_ message: [UInt8]) -> SASLServerAction {
        // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
        let fields = message.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else { return fail(.malformed("PLAIN message needs exactly two NUL separators")) }
        guard !fields[2].contains(0) else { return fail(.malformed("NUL inside the password")) }
        guard let authzid = String(validating: fields[0], as: UTF8.self),
            let authcid = String(validating: fields[1], as: UTF8.self),
            String(validating: fields[2], as: UTF8.self) != nil
        else {
            return fail(.malformed("PLAIN message is not UTF-8"))
        }
        // authcid and passwd are 1*SAFE: neither may be empty.
        guard !authcid.isEmpty else { return fail(.malformed("empty authentication identity")) }
        guard !fields[2].isEmpty else { return fail(.malformed("empty password")) }
        // We authorize nobody as somebody else (RFC 4616 §2, "authorization identity").
        guard authzid.isEmpty || authzid == authcid else { return fail(.authenticationFailed) }
        state = .awaitingVerification(user: authcid)
        return .verifyPassword(
            authenticationID: authcid,
            authorizationID: authzid.isEmpty ? nil : authzid,
            password: Array(fields[2])
        )
    }

    private mutating func fail(_ failure: SASLServerFailure) -> SASLServerAction {
        state = .finished
        return .failure(failure)
    }
}
