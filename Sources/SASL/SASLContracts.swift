// Cross-module contract for SASL (RFC 4422, RFC 5034). Mechanisms are pure state machines:
// they take and return raw bytes (base64 framing belongs to POP3Core) and never do I/O.
// Password checks and credential look-ups are asked of the caller through actions.

/// A mechanism name as it appears in `AUTH <name>` and in CAPA `SASL ...` (RFC 5034 §4).
public struct SASLMechanismName: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue.uppercased() }
    public var description: String { rawValue }

    public static let plain = SASLMechanismName("PLAIN")  // RFC 4616
    public static let login = SASLMechanismName("LOGIN")  // draft-murchison-sasl-login
    public static let scramSHA256 = SASLMechanismName("SCRAM-SHA-256")  // RFC 7677
    public static let xoauth2 = SASLMechanismName("XOAUTH2")  // Google / Microsoft
    public static let oauthBearer = SASLMechanismName("OAUTHBEARER")  // RFC 7628
}

/// What a SCRAM server needs to know about an account (RFC 5802 §3): never the password.
public struct SCRAMCredentials: Hashable, Sendable {
    public var salt: [UInt8]
    public var iterations: Int
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]
    public init(salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }
}

/// Why a server-side exchange failed. `malformed` is the peer's fault (bad syntax);
/// `authenticationFailed` means wrong credentials.
public enum SASLServerFailure: Hashable, Sendable {
    case malformed(String)
    case authenticationFailed
    case cancelled
}

/// The next thing the caller of a server mechanism must do.
public enum SASLServerAction: Hashable, Sendable {
    /// Send `+ base64(bytes)` and wait for the client's next line.
    case challenge([UInt8])
    /// Check this password against the account store, then call `passwordVerified(_:)`.
    case verifyPassword(authenticationID: String, authorizationID: String?, password: [UInt8])
    /// Look up SCRAM credentials for this user, then call `credentialsLookedUp(_:)`.
    case lookUpSCRAMCredentials(user: String)
    /// The exchange succeeded for this user.
    case success(user: String)
    /// The exchange failed.
    case failure(SASLServerFailure)
}

/// A server-side mechanism. One instance per exchange.
public protocol SASLServerMechanism: Sendable {
    var name: SASLMechanismName { get }
    /// `initialResponse` is nil when the client sent none, `[]` for `=` (RFC 5034 §4).
    mutating func start(initialResponse: [UInt8]?) -> SASLServerAction
    mutating func received(response: [UInt8]) -> SASLServerAction
    mutating func passwordVerified(_ ok: Bool) -> SASLServerAction
    mutating func credentialsLookedUp(_ credentials: SCRAMCredentials?) -> SASLServerAction
}

/// A client-side mechanism. One instance per exchange.
public protocol SASLClientMechanism: Sendable {
    var name: SASLMechanismName { get }
    /// The initial response to send with `AUTH`, or nil to wait for an empty challenge.
    mutating func initialResponse() throws -> [UInt8]?
    /// The response to a server challenge (`+ ...`).
    mutating func respond(to challenge: [UInt8]) throws -> [UInt8]
    /// Called on `+OK`: mechanisms that authenticate the server (SCRAM) check they did.
    func verifyCompletion() throws
}
