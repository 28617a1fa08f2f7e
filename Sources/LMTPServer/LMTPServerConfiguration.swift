// LMTPServer: what an LMTP listener needs to run.
public import Accounts
public import LMTPCore
public import Logging
public import MailStore
public import ServerMetrics

/// The configuration of an ``LMTPServer``.
public struct LMTPServerConfiguration: Sendable {
    /// Where the server listens: TCP, or a Unix-domain socket (the usual choice beside
    /// Postfix: `lmtp:unix:/path`).
    public enum Endpoint: Hashable, Sendable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        /// A socket file. A stale socket file at the path is replaced; the file is made
        /// read-write for everyone (mode 0666), so the MTA's LMTP client, running as its own
        /// user, can connect: restrict who may reach it with the directory's permissions.
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unix(let path): "unix:\(path)"
            }
        }
    }

    public var endpoints: [Endpoint]
    /// This server's name in the greeting and the LHLO reply.
    public var hostname: String
    public var limits: LMTPLimits
    /// Sessions open at once; more are refused with `421 4.3.2`. Default 256 (our choice):
    /// Postfix opens at most `lmtp_destination_concurrency_limit` (20 by default) per socket.
    public var maximumConnections: Int
    /// On shutdown, how long sessions in the middle of a transaction may take to finish.
    public var shutdownGracePeriod: Duration
    /// Who has an account: recipients are checked at RCPT.
    public var accountProvider: any AccountProvider
    /// Where messages are stored, once per account, through ``MailStore/deliver(user:message:)``.
    public var mailStore: any MailStore
    public var logger: Logger
    /// Where deliveries are counted (``MetricNames/lmtpDeliveries``).
    public var metrics: ServerMetrics

    public init(
        endpoints: [Endpoint],
        hostname: String,
        limits: LMTPLimits = LMTPLimits(),
        maximumConnections: Int = 256,
        shutdownGracePeriod: Duration = .seconds(10),
        accountProvider: any AccountProvider,
        mailStore: any MailStore,
        logger: Logger,
        metrics: ServerMetrics = ServerMetrics()
    ) {
        self.endpoints = endpoints
        self.hostname = hostname
        self.limits = limits
        self.maximumConnections = maximumConnections
        self.shutdownGracePeriod = shutdownGracePeriod
        self.accountProvider = accountProvider
        self.mailStore = mailStore
        self.logger = logger
        self.metrics = metrics
    }
}
