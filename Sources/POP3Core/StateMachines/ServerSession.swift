// POP3Core: the server side of a POP3 session as a pure state machine (RFC 1939 §3, GUIDE B5).

/// The server's POP3 session: AUTHORIZATION → TRANSACTION → UPDATE (RFC 1939 §3), with
/// CAPA (RFC 2449), STLS (RFC 2595), SASL (RFC 5034) and APOP (RFC 1939 §7).
///
/// Pure: no I/O, no clock. The shell feeds it lines (``received(_:)``) and outcomes of the
/// slow work it asked for, and performs the ``Action`` each input returns.
public struct ServerSession: Sendable {
    /// What this connection offers; the shell fills it from the server configuration and
    /// the connection (listener kind, peer address).
    public struct Configuration: Hashable, Sendable {
        public var limits: POP3Limits
        /// TLS is active from the start (implicit-TLS listener).
        public var tlsActive: Bool
        /// STLS can be offered (a certificate is configured and TLS is not yet active).
        public var stlsAvailable: Bool
        /// Cleartext logins (USER/PASS, PLAIN, LOGIN) are allowed without TLS: the peer is on
        /// loopback or the operator allowed it (RFC 2595 §2.3, RFC 8314).
        public var cleartextAllowedWithoutTLS: Bool
        /// SASL mechanisms offered, in CAPA order; empty turns SASL off.
        public var saslMechanisms: [String]
        /// Mechanisms that send the password in the clear.
        public var cleartextMechanisms: Set<String>
        /// The greeting's APOP timestamp `<pid.clock@host>`; `nil` turns APOP off.
        public var apopTimestamp: String?
        /// The `IMPLEMENTATION` text.
        public var implementation: String
        /// Advertised as `LOGIN-DELAY` when set (RFC 2449 §6.5); after login the account's own
        /// value (``maildropOpened(_:account:)``) replaces it.
        public var loginDelaySeconds: Int?
        /// The login delay differs per user: AUTHORIZATION appends `USER` (RFC 2449 §6.5).
        public var loginDelayPerUser: Bool
        /// Advertised as `EXPIRE` when set: `.some(nil)` is NEVER (RFC 2449 §6.7); after login
        /// the account's own value replaces it.
        public var expireDays: Int??
        /// The retention period differs per user: AUTHORIZATION appends `USER` (RFC 2449 §6.7).
        public var expirePerUser: Bool

        public init(
            limits: POP3Limits = POP3Limits(),
            tlsActive: Bool = false,
            stlsAvailable: Bool = false,
            cleartextAllowedWithoutTLS: Bool = false,
            saslMechanisms: [String] = ["PLAIN", "LOGIN", "SCRAM-SHA-256"],
            cleartextMechanisms: Set<String> = ["PLAIN", "LOGIN"],
            apopTimestamp: String? = nil,
            implementation: String = "PostOffice",
            loginDelaySeconds: Int? = nil,
            loginDelayPerUser: Bool = false,
            expireDays: Int?? = nil,
            expirePerUser: Bool = false
        ) {
            self.limits = limits
            self.tlsActive = tlsActive
            self.stlsAvailable = stlsAvailable
            self.cleartextAllowedWithoutTLS = cleartextAllowedWithoutTLS
            self.saslMechanisms = saslMechanisms
            self.cleartextMechanisms = cleartextMechanisms
            self.apopTimestamp = apopTimestamp
            self.implementation = implementation
            self.loginDelaySeconds = loginDelaySeconds
            self.loginDelayPerUser = loginDelayPerUser
            self.expireDays = expireDays
            self.expirePerUser = expirePerUser
        }
    }

    /// What the logged-in account's CAPA says of LOGIN-DELAY and EXPIRE in TRANSACTION (RFC 2449
    /// §6.5, §6.7: "the more accurate value"); `nil` fields are not advertised.
    public struct AccountCapabilities: Hashable, Sendable {
        public var loginDelaySeconds: Int?
        /// `.some(nil)` is NEVER.
        public var expireDays: Int??

        public init(loginDelaySeconds: Int? = nil, expireDays: Int?? = nil) {
            self.loginDelaySeconds = loginDelaySeconds
            self.expireDays = expireDays
        }
    }

    enum State: Hashable, Sendable {
        case authorization(AuthorizationState)
        case transaction(TransactionState)
        case update(TransactionState)
        case closed
        /// Held only while a transition mutates the data it took out of `state`, so that data
        /// has one owner and is changed in place (no copy of the snapshot per DELE).
        case modifying
    }

    struct AuthorizationState: Hashable, Sendable {
        enum Pending: Hashable, Sendable {
            case none
            /// A USER was accepted; PASS may follow immediately.
            case user(String)
            /// Waiting for the shell to verify credentials for this mechanism.
            case verifying(mechanism: String)
            /// A SASL exchange is running.
            case sasl(mechanism: String, steps: Int, awaitingResponse: Bool)
            /// STLS accepted; waiting for the shell to install TLS.
            case startingTLS
            /// Logged in; waiting for the maildrop.
            case openingMaildrop(user: String, mechanism: String)
        }
        var pending: Pending = .none
        var failures = 0
        var commands = 0
    }

    struct TransactionState: Hashable, Sendable {
        var messages: [MessageInfo]
        var deleted: [Bool]
        /// Sent whole by RETR in this session (RFC 2449 §6.7: EXPIRE 0's implicit DELE).
        var retrieved: [Bool]
        var pendingDeletions: [Int] = []
        /// Messages not marked as deleted, and their octets: kept current by DELE and RSET,
        /// so STAT and LIST do not walk the snapshot.
        var liveCount: Int
        var liveOctets: Int
        private let totalOctets: Int

        init(messages: [MessageInfo]) {
            self.messages = messages
            self.deleted = Array(repeating: false, count: messages.count)
            self.retrieved = Array(repeating: false, count: messages.count)
            self.totalOctets = messages.reduce(0) { $0 &+ $1.size }
            self.liveCount = messages.count
            self.liveOctets = self.totalOctets
        }

        /// RSET (RFC 1939 §5): no message is marked as deleted any more.
        mutating func unmarkAll() {
            self.deleted = Array(repeating: false, count: self.messages.count)
            self.liveCount = self.messages.count
            self.liveOctets = self.totalOctets
        }
    }

    var state: State
    public let configuration: Configuration
    /// TLS is active (implicit or after STLS).
    public internal(set) var tlsActive: Bool
    var badCommands = 0
    /// Counters for the logout log line.
    public internal(set) var statistics = Statistics()
    /// The logged-in account's LOGIN-DELAY and EXPIRE, for CAPA in TRANSACTION.
    var account: AccountCapabilities?

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.tlsActive = configuration.tlsActive
        self.state = .authorization(AuthorizationState())
    }

    /// The greeting, with the APOP timestamp when APOP is on (RFC 1939 §4, §7).
    public var greeting: Response {
        var text = "\(configuration.implementation) POP3 server ready"
        if let timestamp = configuration.apopTimestamp { text += " \(timestamp)" }
        return .ok(text)
    }

    /// What the next line must be parsed as.
    public var expectation: CommandParser.Expectation {
        if case .authorization(let auth) = state, case .sasl(_, _, true) = auth.pending {
            return .saslResponse
        }
        return .command
    }

    /// True in TRANSACTION: the shell touches the maildrop before each line (takeover check).
    public var isInTransaction: Bool {
        if case .transaction = state { return true }
        return false
    }

    /// True once the session has ended; the shell closes the connection.
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Whether cleartext logins are allowed on this connection now.
    public var cleartextAuthAllowed: Bool { tlsActive || configuration.cleartextAllowedWithoutTLS }

    /// SASL mechanisms usable on this connection now.
    public var availableMechanisms: [String] {
        configuration.saslMechanisms.filter { cleartextAuthAllowed || !configuration.cleartextMechanisms.contains($0) }
    }

    /// The capabilities for this connection in its current state (RFC 2449 §5: "the
    /// capabilities available in the current state").
    public var capabilities: [Capability] {
        var list: [Capability] = [.top, .uidl]
        if case .authorization = state {
            if cleartextAuthAllowed { list.append(.user) }
            let mechanisms = availableMechanisms
            if !mechanisms.isEmpty { list.append(.sasl(mechanisms)) }
            if configuration.stlsAvailable, !tlsActive { list.append(.stls) }
        }
        list += [.pipelining, .respCodes, .authRespCode]
        // RFC 2449 §6.5 and §6.7: before login the value for any user, with USER when it may
        // change after authentication; after login the account's own.
        if let account {
            if let seconds = account.loginDelaySeconds { list.append(.loginDelay(seconds: seconds, perUser: false)) }
            if let days = account.expireDays { list.append(.expire(days: days, perUser: false)) }
        } else {
            let authorization = stateIsAuthorization()
            if let seconds = configuration.loginDelaySeconds {
                list.append(.loginDelay(seconds: seconds, perUser: authorization && configuration.loginDelayPerUser))
            }
            if let days = configuration.expireDays {
                list.append(.expire(days: days, perUser: authorization && configuration.expirePerUser))
            }
        }
        list.append(.implementation(configuration.implementation))
        return list
    }

    // MARK: - Inputs

    /// A line from the client.
    public mutating func received(_ line: ClientLine) -> Action {
        switch state {
        case .authorization(var auth):
            let action = receive_authorization(line, &auth)
            if case .authorization = state { state = .authorization(auth) }
            return action
        case .transaction(var transaction):
            state = .modifying
            let action = receive_transaction(line, &transaction)
            if case .modifying = state { state = .transaction(transaction) }
            return action
        case .update, .closed:
            // The shell stops reading after QUIT; a line now is the peer's doing, not a bug.
            return .close
        case .modifying:
            preconditionFailure("a line while the session is mid-transition")
        }
    }

    /// A line that could not be parsed (``POP3ParserError``) or was too long
    /// (``ExceededLineLengthLimit``). Inside a SASL exchange this aborts the exchange
    /// (RFC 5034 §4: a response that cannot be decoded MUST be rejected with -ERR).
    public mutating func receivedMalformedLine(_ error: any Error) -> Action {
        let text: String
        switch error {
        case let error as POP3ParserError: text = error.hint
        case is ExceededLineLengthLimit: text = "line too long"
        default: text = "invalid command"
        }
        if case .authorization(var auth) = state, case .sasl = auth.pending {
            auth.pending = .none
            state = .authorization(auth)
            return badCommand(.err("authentication aborted: \(text)"))
        }
        return badCommand(.err(text))
    }

    /// The idle timer fired: close without UPDATE (RFC 1939 §3 autologout).
    public mutating func timedOut() -> Action {
        state = .closed
        return .sendAndClose(.err("autologout: idle for too long"))
    }

    /// Counts a bad command; closes once there were too many.
    mutating func badCommand(_ response: Response) -> Action {
        badCommands += 1
        if badCommands >= configuration.limits.maximumBadCommands {
            state = .closed
            return .sendAndClose(.err("too many bad commands, closing"))
        }
        return .send(response)
    }
}
