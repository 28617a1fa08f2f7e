// Errors a client-side mechanism throws (style guide B8: a code plus redacted text).

/// Why a client-side SASL exchange cannot go on. The description never contains secrets
/// or payload bytes, so it is safe to log.
public struct SASLClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; equality of errors compares codes only.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case unexpectedChallenge
            case malformedChallenge
            case invalidCredentialCharacters
            case serverNotAuthenticated
            case serverError
            case excessiveIterationCount
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server sent a challenge when none was expected (or too many).
        public static let unexpectedChallenge = Code(.unexpectedChallenge)
        /// A challenge did not follow the mechanism's syntax.
        public static let malformedChallenge = Code(.malformedChallenge)
        /// The user name, password or token contains characters the mechanism cannot carry.
        public static let invalidCredentialCharacters = Code(.invalidCredentialCharacters)
        /// The server did not prove it knows the credentials (SCRAM server signature, RFC 5802 §3).
        public static let serverNotAuthenticated = Code(.serverNotAuthenticated)
        /// The server reported an error inside the mechanism (SCRAM `e=`, RFC 5802 §7).
        public static let serverError = Code(.serverError)
        /// The server asks for more SCRAM iterations than the client is configured to compute
        /// (RFC 5802 §5.1 `i`): refused as an authentication failure, since no login happens.
        public static let excessiveIterationCount = Code(.excessiveIterationCount)

        public var description: String {
            switch base {
            case .unexpectedChallenge: "unexpected challenge"
            case .malformedChallenge: "malformed challenge"
            case .invalidCredentialCharacters: "invalid characters in credentials"
            case .serverNotAuthenticated: "server not authenticated"
            case .serverError: "server error"
            case .excessiveIterationCount: "excessive iteration count"
            }
        }
    }

    /// What went wrong.
    public var code: Code
    /// A short explanation without secrets.
    public var reason: String

    /// Creates an error with a code and a secret-free explanation.
    public init(code: Code, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "SASL \(code): \(reason)" }

    public static func == (lhs: SASLClientError, rhs: SASLClientError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    @inline(never)
    static func unexpectedChallenge(_ mechanism: SASLMechanismName) -> SASLClientError {
        SASLClientError(code: .unexpectedChallenge, reason: "\(mechanism) received a challenge it did not expect")
    }

    @inline(never)
    static func malformedChallenge(_ reason: String) -> SASLClientError {
        SASLClientError(code: .malformedChallenge, reason: reason)
    }

    @inline(never)
    static func excessiveIterationCount(requested: String, maximum: Int) -> SASLClientError {
        SASLClientError(
            code: .excessiveIterationCount,
            reason: "the server asks for \(requested) SCRAM-SHA-256 iterations, more than the \(maximum) allowed"
        )
    }

    @inline(never)
    static func invalidCredentialCharacters(_ reason: String) -> SASLClientError {
        SASLClientError(code: .invalidCredentialCharacters, reason: reason)
    }
}
