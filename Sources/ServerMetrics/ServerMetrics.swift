// ServerMetrics: what the POP3 and LMTP listeners (and the abuse controls) record.
public import CoreMetrics

/// The server's metrics, recorded through swift-metrics (names in ``MetricNames``).
///
/// One value per server, made with the factory that exports them (the command line's
/// Prometheus registry) or, by default, the process's `MetricsSystem` factory. Every label
/// value comes from a closed set, so a client cannot grow the number of series: an unknown
/// SASL mechanism is recorded as `other`.
public struct ServerMetrics: Sendable {
    /// The kind of POP3 listener a connection came in on.
    public enum Listener: String, Sendable, CaseIterable {
        /// Plaintext with STLS (port 110).
        case pop3
        /// Implicit TLS (port 995).
        case pop3s
    }

    public enum LoginResult: String, Sendable, CaseIterable {
        case success
        case invalidCredentials = "invalid_credentials"
        case malformed
        case temporaryFailure = "temporary_failure"
        case mechanismUnavailable = "mechanism_unavailable"
    }

    public enum LMTPResult: String, Sendable, CaseIterable {
        case stored
        case temporaryFailure = "temporary_failure"
        case storageFull = "storage_full"
        case noSuchUser = "no_such_user"
    }

    public enum BanKind: String, Sendable, CaseIterable {
        /// A client address (an IPv6 /64).
        case address
        /// A user name.
        case user
    }

    /// Why a connection was refused before its session started.
    public enum Refusal: String, Sendable, CaseIterable {
        /// Over the server's connection limit.
        case serverFull = "server_full"
        /// Over the cap on connections per client address (an IPv6 /64).
        case clientFull = "client_full"
        /// The client's address is banned.
        case banned
    }

    /// The mechanism labels: USER/PASS, APOP, the SASL mechanisms we serve, and `other`.
    public static let mechanisms = ["USER", "APOP", "PLAIN", "LOGIN", "SCRAM-SHA-256", "other"]

    private let sessionsOpen: Meter
    private let sessions: [Listener: Counter]
    private let logins: [String: Counter]
    private let loginDurations: [Bool: Timer]
    private let tlsHandshakes: [String: Counter]
    private let messagesRetrieved: Counter
    private let bytesRetrieved: Counter
    private let messagesDeleted: Counter
    private let bytesDeleted: Counter
    private let lmtpDeliveries: [LMTPResult: Counter]
    private let authFailureDelays: Counter
    private let bans: [BanKind: Counter]
    private let connectionsRefused: [Refusal: Counter]

    /// Creates every series at once, so each shows (at zero) before its first event.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        func counter(_ descriptor: MetricDescriptor, _ values: [String] = []) -> Counter {
            Counter(label: descriptor.name, dimensions: Array(zip(descriptor.labels, values)), factory: factory)
        }
        sessionsOpen = Meter(label: MetricNames.sessionsOpen.name, dimensions: [], factory: factory)
        sessions = Dictionary(
            uniqueKeysWithValues: Listener.allCases.map { ($0, counter(MetricNames.sessions, [$0.rawValue])) }
        )
        var logins: [String: Counter] = [:]
        for result in LoginResult.allCases {
            for mechanism in Self.mechanisms {
                logins[result.rawValue + " " + mechanism] = counter(MetricNames.logins, [result.rawValue, mechanism])
            }
        }
        self.logins = logins
        loginDurations = Dictionary(
            uniqueKeysWithValues: [true, false].map { success in
                (
                    success,
                    Timer(
                        label: MetricNames.loginDuration.name,
                        dimensions: [("result", success ? "success" : "failure")],
                        factory: factory
                    )
                )
            }
        )
        var handshakes: [String: Counter] = [:]
        for listener in Listener.allCases {
            for result in ["success", "failure"] {
                handshakes[listener.rawValue + " " + result] = counter(
                    MetricNames.tlsHandshakes,
                    [listener.rawValue, result]
                )
            }
        }
        tlsHandshakes = handshakes
        messagesRetrieved = counter(MetricNames.messagesRetrieved)
        bytesRetrieved = counter(MetricNames.bytesRetrieved)
        messagesDeleted = counter(MetricNames.messagesDeleted)
        bytesDeleted = counter(MetricNames.bytesDeleted)
        lmtpDeliveries = Dictionary(
            uniqueKeysWithValues: LMTPResult.allCases.map { ($0, counter(MetricNames.lmtpDeliveries, [$0.rawValue])) }
        )
        authFailureDelays = counter(MetricNames.authFailureDelays)
        bans = Dictionary(
            uniqueKeysWithValues: BanKind.allCases.map { ($0, counter(MetricNames.bans, [$0.rawValue])) }
        )
        connectionsRefused = Dictionary(
            uniqueKeysWithValues: Refusal.allCases.map { ($0, counter(MetricNames.connectionsRefused, [$0.rawValue])) }
        )
    }

    /// A connection was accepted and is served.
    public func sessionOpened(listener: Listener) {
        sessions[listener]?.increment()
        sessionsOpen.increment()
    }

    /// A served connection is gone.
    public func sessionClosed() {
        sessionsOpen.decrement()
    }

    /// A login ended; `duration` is the time its check took (without a failure delay).
    public func login(result: LoginResult, mechanism: String, duration: Duration?) {
        let label = Self.mechanisms.contains(mechanism) ? mechanism : "other"
        logins[result.rawValue + " " + label]?.increment()
        if let duration {
            let (seconds, attoseconds) = duration.components
            loginDurations[result == .success]?.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
    }

    /// A TLS handshake finished, or failed (an error or a close before it finished).
    public func tlsHandshake(listener: Listener, succeeded: Bool) {
        tlsHandshakes[listener.rawValue + " " + (succeeded ? "success" : "failure")]?.increment()
    }

    /// RETR sent a message of `octets`.
    public func messageRetrieved(octets: Int) {
        messagesRetrieved.increment()
        bytesRetrieved.increment(by: octets)
    }

    /// The UPDATE state removed `count` messages totalling `octets`.
    public func messagesDeleted(count: Int, octets: Int) {
        messagesDeleted.increment(by: count)
        bytesDeleted.increment(by: octets)
    }

    /// One LMTP recipient's delivery ended.
    public func lmtpDelivery(_ result: LMTPResult) {
        lmtpDeliveries[result]?.increment()
    }

    /// A failed login is answered after a failure delay.
    public func authFailureDelayed() {
        authFailureDelays.increment()
    }

    /// The abuse controls banned an address or a user name.
    public func banned(_ kind: BanKind) {
        bans[kind]?.increment()
    }

    /// A connection was refused with `-ERR [SYS/TEMP]` before its session started.
    public func connectionRefused(_ reason: Refusal) {
        connectionsRefused[reason]?.increment()
    }
}
