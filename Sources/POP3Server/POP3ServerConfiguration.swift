// POP3Server: everything a server needs to run, in one value.
public import Accounts
public import FileIO
public import Logging
public import MailStore
public import POP3Core
public import ProxyProtocol
public import SASL
public import ServerMetrics

/// How a ``POP3Server`` runs: where it listens, TLS, authentication policy, limits, and the
/// account database and store it serves.
public struct POP3ServerConfiguration: Sendable {
    /// One listening socket.
    public struct Listener: Hashable, Sendable, CustomStringConvertible {
        public var host: String
        /// 0 picks a free port (tests); the bound port is in ``POP3Server/boundAddresses()``.
        public var port: Int
        /// TLS from the first byte (port 995, RFC 8314 §3.3); otherwise plaintext with STLS.
        public var implicitTLS: Bool
        /// Every connection starts with a PROXY protocol header (v1 or v2) from a trusted proxy
        /// (``POP3ServerConfiguration/trustedProxies``), before TLS; others are closed.
        public var proxyProtocol: Bool

        public init(host: String, port: Int, implicitTLS: Bool, proxyProtocol: Bool = false) {
            self.host = host
            self.port = port
            self.implicitTLS = implicitTLS
            self.proxyProtocol = proxyProtocol
        }

        /// Parses `host:port`, `[v6]:port` or `:port` (all addresses).
        public init?(_ text: String, implicitTLS: Bool, proxyProtocol: Bool = false) {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                (0...65535).contains(port)
            else { return nil }
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self.init(
                host: host.isEmpty ? "::" : host,
                port: port,
                implicitTLS: implicitTLS,
                proxyProtocol: proxyProtocol
            )
        }

        public var description: String {
            (host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)") + (implicitTLS ? " (TLS)" : "")
                + (proxyProtocol ? " (PROXY)" : "")
        }
    }

    /// PEM files for the server certificate (chain) and key.
    public struct TLSFiles: Hashable, Sendable {
        public var certificatePath: String
        public var keyPath: String
        public init(certificatePath: String, keyPath: String) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
        }
    }

    public var listeners: [Listener]
    /// Needed for implicit-TLS listeners and for STLS; `nil` turns both off.
    public var tls: TLSFiles?
    /// Allow USER/PASS, PLAIN and LOGIN on connections that are neither TLS nor loopback
    /// (RFC 8314, RFC 2595 §2.3 say not to). Default false.
    public var allowCleartextAuth: Bool
    /// Treat loopback peers as safe for cleartext logins. Default true.
    public var cleartextAllowedOnLoopback: Bool
    /// Offer APOP (RFC 1939 §7) for accounts whose scheme keeps a usable secret. Default false.
    public var apop: Bool
    /// Host name in the APOP timestamp `<pid.clock@host>`.
    public var hostname: String
    /// Protocol limits, idle timeout included.
    public var limits: POP3Limits
    /// Seconds before answering the first failed login from an address; each further failure
    /// from that address multiplies it by 3, up to ``authFailureDelayCap``. 0 disables (test rigs).
    public var authFailureDelay: Double
    /// Largest failure delay in seconds. Default 30.
    public var authFailureDelayCap: Double
    /// On shutdown, how long sessions may go on before they are closed without UPDATE.
    public var shutdownGracePeriod: Duration
    /// Connections served at once, over all listeners. One more is answered
    /// `-ERR [SYS/TEMP]` and closed, so a connection flood cannot grow memory without bound.
    /// `nil` (the default): as many as the process's file-descriptor limit allows
    /// (``ConnectionLimit/default``, read when the server starts). A larger number is lowered
    /// to that, with a warning in the log: past it the process would run out of descriptors.
    public var maximumConnections: Int?
    /// What each connection's socket counts against, with the lock files of the maildrops the
    /// store opens: the process's by default, whose limit the server sets when it starts
    /// (``ConnectionLimit/budget(fileDescriptors:)``). A Maildir store given the same budget
    /// releases the locks of silent sessions when connections need their descriptors.
    public var descriptorBudget: DescriptorBudget = .shared
    /// Connections served at once per client (an IPv4 address or an IPv6 /64,
    /// ``PeerAddress/clientKey``), so one client cannot take every slot of
    /// ``maximumConnections``. One more is answered `-ERR [SYS/TEMP]` and closed. Clients in
    /// ``trustedNetworks`` are not counted. `nil` turns the cap off. Default
    /// ``defaultMaximumConnectionsPerClient``.
    public var maximumConnectionsPerClient: Int?
    /// 50: far more than a mail client opens (one per account and poll), far fewer than the
    /// descriptor limit allows in all.
    public static let defaultMaximumConnectionsPerClient = 50
    /// Networks whose proxies may send a PROXY header (listeners with
    /// ``Listener/proxyProtocol``). Connections from elsewhere to such a listener are closed.
    public var trustedProxies: [IPNetwork]
    /// Networks exempt from bans and from ``maximumConnectionsPerClient`` (a webmail host, an
    /// office NAT). Trusted proxies are exempt too, for their own connections.
    public var trustedNetworks: [IPNetwork]
    /// Ban a client address, or a user name, after repeated failed logins; `nil`: no bans.
    public var banPolicy: BanPolicy?
    /// Where bans are kept (``BanFile``), so `postoffice ban` sees them and they survive a
    /// restart; `nil` keeps them in memory only.
    public var banFile: String?
    /// How long a silent session keeps its maildrop before a newer login may take it over.
    /// Held here for the store's construction; default 60 s.
    public var takeoverAfter: Duration
    /// SASL mechanisms to offer, in CAPA order; those `makeMechanism` cannot make are dropped.
    public var saslMechanisms: [SASLMechanismName]
    /// Makes one server-side mechanism per exchange. Default: the SASL module's
    /// `makeSASLServerMechanism` (PLAIN, LOGIN, SCRAM-SHA-256).
    public var makeMechanism: @Sendable (SASLMechanismName) -> (any SASLServerMechanism)?
    /// The site's login delay in seconds (RFC 2449 §6.5 LOGIN-DELAY), enforced and advertised;
    /// an account's `login_delay` (``AccountProvider/settings(user:)``) overrides it. `nil`: none.
    public var loginDelaySeconds: Int?
    /// The site's retention period (RFC 2449 §6.7 EXPIRE), advertised, and enforced at the end of
    /// each session on the messages it retrieved; an account's `expire_days` overrides it.
    /// `nil`: not advertised, messages are kept.
    public var expiry: Expiry?
    /// Where the last login of each account is kept, for the login delays.
    public var loginHistory: LoginHistory
    public var accountProvider: any AccountProvider
    public var mailStore: any MailStore
    public var logger: Logger
    /// Where sessions, logins, TLS handshakes and transfers are counted (``MetricNames``).
    public var metrics: ServerMetrics

    public init(
        listeners: [Listener],
        tls: TLSFiles? = nil,
        allowCleartextAuth: Bool = false,
        cleartextAllowedOnLoopback: Bool = true,
        apop: Bool = false,
        hostname: String = "localhost",
        limits: POP3Limits = POP3Limits(),
        authFailureDelay: Double = 2,
        authFailureDelayCap: Double = 30,
        shutdownGracePeriod: Duration = .seconds(10),
        maximumConnections: Int? = nil,
        maximumConnectionsPerClient: Int? = POP3ServerConfiguration.defaultMaximumConnectionsPerClient,
        trustedProxies: [IPNetwork] = [],
        trustedNetworks: [IPNetwork] = [],
        banPolicy: BanPolicy? = nil,
        banFile: String? = nil,
        takeoverAfter: Duration = .seconds(60),
        saslMechanisms: [SASLMechanismName] = [.plain, .login, .scramSHA256],
        makeMechanism: @escaping @Sendable (SASLMechanismName) -> (any SASLServerMechanism)? = makeSASLServerMechanism,
        loginDelaySeconds: Int? = nil,
        expiry: Expiry? = nil,
        loginHistory: LoginHistory = LoginHistory(path: nil),
        accountProvider: any AccountProvider,
        mailStore: any MailStore,
        logger: Logger = Logger(label: "postoffice.pop3"),
        metrics: ServerMetrics = ServerMetrics()
    ) {
        self.listeners = listeners
        self.tls = tls
        self.allowCleartextAuth = allowCleartextAuth
        self.cleartextAllowedOnLoopback = cleartextAllowedOnLoopback
        self.apop = apop
        self.hostname = hostname
        self.limits = limits
        self.authFailureDelay = authFailureDelay
        self.authFailureDelayCap = authFailureDelayCap
        self.shutdownGracePeriod = shutdownGracePeriod
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerClient = maximumConnectionsPerClient
        self.trustedProxies = trustedProxies
        self.trustedNetworks = trustedNetworks
        self.banPolicy = banPolicy
        self.banFile = banFile
        self.takeoverAfter = takeoverAfter
        self.saslMechanisms = saslMechanisms
        self.makeMechanism = makeMechanism
        self.loginDelaySeconds = loginDelaySeconds
        self.expiry = expiry
        self.loginHistory = loginHistory
        self.accountProvider = accountProvider
        self.mailStore = mailStore
        self.logger = logger
        self.metrics = metrics
    }

    /// Plain (`host:port`, STLS) and implicit-TLS listener lists, as the CLI has them.
    public static func listeners(plain: [String], implicitTLS: [String]) -> [Listener]? {
        var result: [Listener] = []
        for text in plain {
            guard let listener = Listener(text, implicitTLS: false) else { return nil }
            result.append(listener)
        }
        for text in implicitTLS {
            guard let listener = Listener(text, implicitTLS: true) else { return nil }
            result.append(listener)
        }
        return result
    }
}
