// Where the database is: a libpq-style connection URL, `postgresql://user:password@host:port/db?…`.
import NIOSSL
public import PostgresNIO

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A PostgreSQL connection URL, as libpq reads it (a subset), plus the pool size.
///
/// `postgresql://[user[:password]@][host][:port][/database][?parameter=value&…]`, also spelt
/// `postgres://`. Percent-escapes are decoded in every part. Parameters:
///
/// - `host`: a host name, or a directory holding the server's Unix socket (`/run/postgresql`);
///   overrides the host in the authority.
/// - `sslmode`: `disable`, `prefer` (the default, as libpq: TLS when the server offers it, not
///   verified), `require` (TLS, not verified) or `verify-full` (TLS, the certificate checked
///   against the system's roots or `sslrootcert`, and the host name).
/// - `sslrootcert`: a PEM file of trusted roots for `verify-full`.
/// - `pool_size`: the most connections one process opens (``defaultPoolSize`` by default).
/// - `application_name`: shown in `pg_stat_activity` (`postoffice` by default).
///
/// What the URL leaves out comes from the environment as libpq takes it (`PGHOST`, `PGPORT`,
/// `PGUSER`, `PGPASSWORD`, `PGDATABASE`), then from libpq's defaults: the socket directory
/// `/var/run/postgresql`, port 5432, the login name as user and the user name as database.
/// A password is better kept in `PGPASSWORD` (or a Unix socket with peer authentication) than
/// in a URL on a command line, where `ps` shows it. ``description`` never shows it.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// How the database server is reached.
    public enum Endpoint: Sendable, Hashable {
        case tcp(host: String, port: Int)
        /// The socket file itself (`DIRECTORY/.s.PGSQL.PORT`).
        case unixSocket(path: String)
    }

    /// libpq's `sslmode`, the values PostOffice supports.
    public enum TLSMode: String, Sendable, Hashable {
        case disable
        case prefer
        case require
        case verifyFull = "verify-full"
    }

    /// Why a URL cannot be used. The text never contains the password.
    public struct InvalidURL: Error, Sendable, Hashable, CustomStringConvertible {
        public var reason: String
        public var description: String { "invalid PostgreSQL URL: \(reason)" }
    }

    /// Connections one process keeps at most when the URL does not say (`pool_size`): enough for
    /// thousands of POP3 sessions, which hold none while idle.
    public static let defaultPoolSize = 8
    /// The largest `pool_size` accepted.
    public static let maximumPoolSize = 1000

    public var endpoint: Endpoint
    public var user: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode
    public var rootCertificatePath: String?
    public var poolSize: Int
    public var applicationName: String

    /// Whether `text` is meant as a PostgreSQL URL (and not, say, a Maildir template).
    public static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// Parses `text`, filling gaps from `environment` (libpq's `PG…` variables).
    public init(parsing text: String, environment: [String: String] = PostgresURL.processEnvironment())
        throws(InvalidURL)
    {
        var rest: Substring
        if text.hasPrefix("postgresql://") {
            rest = text.dropFirst("postgresql://".count)
        } else if text.hasPrefix("postgres://") {
            rest = text.dropFirst("postgres://".count)
        } else {
            throw InvalidURL(reason: "it must start with postgresql://")
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var userInfo: Substring?
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        var host: String?
        var port: Int?
        if !rest.isEmpty {
            let hostPart: Substring
            var portPart: Substring?
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { throw InvalidURL(reason: "unclosed [ in the host") }
                hostPart = rest[rest.index(after: rest.startIndex)..<close]
                let after = rest[rest.index(after: close)...]
                if !after.isEmpty {
                    guard after.hasPrefix(":") else { throw InvalidURL(reason: "unexpected text after the host") }
                    portPart = after.dropFirst()
                }
            } else if let colon = rest.lastIndex(of: ":") {
                hostPart = rest[..<colon]
                portPart = rest[rest.index(after: colon)...]
            } else {
                hostPart = rest
            }
            if !hostPart.isEmpty { host = try Self.decode(hostPart, part: "host") }
            if let portPart, !portPart.isEmpty {
                port = try Self.port(portPart)
            }
        }
        var user: String?
        var password: String?
        if let userInfo {
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.decode(userInfo[..<colon], part: "user")
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], part: "password")
            } else {
                user = try Self.decode(userInfo, part: "user")
            }
            if user?.isEmpty == true { user = nil }
        }
        var database = path.isEmpty ? nil : try Self.decode(path, part: "database")

        var tlsMode = TLSMode.prefer
        var rootCertificate: String?
        var poolSize = Self.defaultPoolSize
        var applicationName = "postoffice"
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let key: String
            let value: String
            if let equals = pair.firstIndex(of: "=") {
                key = try Self.decode(pair[..<equals], part: "parameter")
                value = try Self.decode(pair[pair.index(after: equals)...], part: "parameter")
            } else {
                key = try Self.decode(pair, part: "parameter")
                value = ""
            }
            switch key {
            case "host": host = value
            case "port": port = try Self.port(Substring(value))
            case "user": user = value
            case "password": password = value
            case "dbname": database = value
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw InvalidURL(reason: "sslmode must be disable, prefer, require or verify-full")
                }
                tlsMode = mode
            case "sslrootcert": rootCertificate = value
            case "pool_size":
                guard let size = Int(value), (1...Self.maximumPoolSize).contains(size) else {
                    throw InvalidURL(reason: "pool_size must be between 1 and \(Self.maximumPoolSize)")
                }
                poolSize = size
            case "application_name": applicationName = value
            default:
                throw InvalidURL(reason: "unknown parameter '\(key)'")
            }
        }

        let resolvedHost = host ?? environment["PGHOST"] ?? "/var/run/postgresql"
        var resolvedPort = 5432
        if let port {
            resolvedPort = port
        } else if let fromEnvironment = environment["PGPORT"] {
            resolvedPort = try Self.port(Substring(fromEnvironment))
        }
        if resolvedHost.hasPrefix("/") {
            self.endpoint = .unixSocket(path: "\(resolvedHost)/.s.PGSQL.\(resolvedPort)")
        } else {
            guard !resolvedHost.isEmpty else { throw InvalidURL(reason: "the host is empty") }
            self.endpoint = .tcp(host: resolvedHost, port: resolvedPort)
        }
        let resolvedUser = user ?? environment["PGUSER"] ?? Self.loginName()
        guard !resolvedUser.isEmpty else { throw InvalidURL(reason: "no user name") }
        self.user = resolvedUser
        self.password = password ?? environment["PGPASSWORD"]
        self.database = database ?? environment["PGDATABASE"] ?? resolvedUser
        self.tlsMode = tlsMode
        self.rootCertificatePath = rootCertificate
        self.poolSize = poolSize
        self.applicationName = applicationName
    }

    /// The URL with the password left out: safe for logs and messages.
    public var description: String {
        let location: String
        switch endpoint {
        case .tcp(let host, let port):
            location = "\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .unixSocket(let path):
            location = "unix:\(path)"
        }
        return "postgresql://\(user)@\(location)/\(database)"
    }

    /// The configuration of a `PostgresClient` for this URL.
    public func clientConfiguration() throws -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            configuration = .init(
                host: host,
                port: port,
                username: user,
                password: password,
                database: database,
                tls: try tls()
            )
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: user, password: password, database: database)
        }
        configuration.options.maximumConnections = poolSize
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    private func tls() throws -> PostgresClient.Configuration.TLS {
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none
        switch tlsMode {
        case .disable:
            return .disable
        case .prefer:
            return .prefer(unverified)
        case .require:
            return .require(unverified)
        case .verifyFull:
            var verified = TLSConfiguration.makeClientConfiguration()
            if let rootCertificatePath {
                verified.trustRoots = .file(rootCertificatePath)
            }
            return .require(verified)
        }
    }

    // MARK: - Parsing helpers

    private static func port(_ text: Substring) throws(InvalidURL) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw InvalidURL(reason: "the port must be a number from 1 to 65535")
        }
        return port
    }

    /// Decodes `%XX` escapes; `part` names the URL part in errors (never its text: it may be a password).
    private static func decode(_ text: Substring, part: String) throws(InvalidURL) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw InvalidURL(reason: "a bad %-escape in the \(part)")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw InvalidURL(reason: "the \(part) is not UTF-8")
        }
        return decoded
    }

    /// The variables libpq reads, from this process's environment.
    public static func processEnvironment() -> [String: String] {
        var found: [String: String] = [:]
        for name in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"] {
            if let value = getenv(name) { found[name] = String(cString: value) }
        }
        return found
    }

    private static func loginName() -> String {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return "postgres" }
        return String(cString: name)
    }
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
