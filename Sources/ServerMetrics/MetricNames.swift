// ServerMetrics: every metric the server exports, by name, in this one file.
//
// Dashboards and alerts rely on these names and labels: keep them stable. A new metric gets a
// descriptor here, is added to `all`, and is recorded through `ServerMetrics`.

/// A metric's name, kind, labels and help text as the Prometheus endpoint shows them.
public struct MetricDescriptor: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case counter
        case gauge
        /// A histogram of durations (swift-metrics `Timer`), with these bucket bounds.
        case durationHistogram(buckets: [Duration])
    }

    public var name: String
    public var kind: Kind
    /// Label names, in the order they are recorded.
    public var labels: [String]
    public var help: String

    public init(_ name: String, _ kind: Kind, labels: [String] = [], help: String) {
        self.name = name
        self.kind = kind
        self.labels = labels
        self.help = help
    }
}

/// The server's metrics (issue 9's list): sessions, logins, TLS, retrieval and deletion, LMTP
/// deliveries, failure delays and bans, login latency.
public enum MetricNames {
    public static let sessionsOpen = MetricDescriptor(
        "postoffice_pop3_sessions_open",
        .gauge,
        help: "POP3 sessions open now."
    )
    public static let sessions = MetricDescriptor(
        "postoffice_pop3_sessions_total",
        .counter,
        labels: ["listener"],
        help: "POP3 connections accepted, by listener (pop3: plain with STLS, pop3s: implicit TLS)."
    )
    public static let logins = MetricDescriptor(
        "postoffice_pop3_logins_total",
        .counter,
        labels: ["result", "mechanism"],
        help: "POP3 login attempts by result and mechanism (USER, APOP or the SASL mechanism)."
    )
    public static let loginDuration = MetricDescriptor(
        "postoffice_pop3_login_duration_seconds",
        .durationHistogram(
            buckets: [
                .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
                .seconds(5), .seconds(10),
            ]
        ),
        labels: ["result"],
        help: "Time from a login command to its outcome (the password check), before any failure delay."
    )
    public static let tlsHandshakes = MetricDescriptor(
        "postoffice_pop3_tls_handshakes_total",
        .counter,
        labels: ["listener", "result"],
        help: "TLS handshakes on POP3 connections (pop3s: implicit TLS, pop3: STLS), by result."
    )
    public static let messagesRetrieved = MetricDescriptor(
        "postoffice_pop3_messages_retrieved_total",
        .counter,
        help: "Messages sent whole by RETR."
    )
    public static let bytesRetrieved = MetricDescriptor(
        "postoffice_pop3_retrieved_bytes_total",
        .counter,
        help: "Octets of the messages sent by RETR (CRLF, before dot-stuffing)."
    )
    public static let messagesDeleted = MetricDescriptor(
        "postoffice_pop3_messages_deleted_total",
        .counter,
        help: "Messages removed from maildrops in the UPDATE state."
    )
    public static let bytesDeleted = MetricDescriptor(
        "postoffice_pop3_deleted_bytes_total",
        .counter,
        help: "Octets of the messages removed in the UPDATE state."
    )
    public static let lmtpDeliveries = MetricDescriptor(
        "postoffice_lmtp_deliveries_total",
        .counter,
        labels: ["result"],
        help: "LMTP deliveries, one per recipient, by result (stored, temporary_failure, storage_full, no_such_user)."
    )
    public static let authFailureDelays = MetricDescriptor(
        "postoffice_pop3_auth_failure_delays_total",
        .counter,
        help: "Failed logins answered after a failure delay."
    )
    /// Recorded by the abuse controls through ``ServerMetrics/banned(_:)``.
    public static let bans = MetricDescriptor(
        "postoffice_bans_total",
        .counter,
        labels: ["kind"],
        help: "Bans imposed after repeated failed logins, by kind (address or user)."
    )

    /// Recorded through ``ServerMetrics/connectionRefused(_:)``.
    public static let connectionsRefused = MetricDescriptor(
        "postoffice_pop3_connections_refused_total",
        .counter,
        labels: ["reason"],
        help:
            "POP3 connections refused with -ERR [SYS/TEMP] before their session, by reason (server_full, client_full: over the per-address cap, banned)."
    )

    /// Every descriptor, in the order the endpoint lists them.
    public static let all: [MetricDescriptor] = [
        sessionsOpen, sessions, logins, loginDuration, tlsHandshakes, messagesRetrieved, bytesRetrieved,
        messagesDeleted, bytesDeleted, lmtpDeliveries, authFailureDelays, bans, connectionsRefused,
    ]

    /// The descriptor named `name`, if it is one of ours.
    public static func descriptor(named name: String) -> MetricDescriptor? {
        byName[name]
    }

    private static let byName: [String: MetricDescriptor] = Dictionary(
        uniqueKeysWithValues: all.map { ($0.name, $0) }
    )
}
