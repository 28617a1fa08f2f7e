// Probing a candidate with the POP3 client: greeting, STLS and CAPA, no credentials
// (RFC 8314 §5.2), and the login check once the user has chosen.

public import Logging
public import POP3Client

/// What a probe of a candidate found.
public enum ProbeOutcome: Sendable, Hashable {
    /// A POP3 server that secured the connection with a certificate that verified.
    case verified
    /// A POP3 server that secured the connection, with a certificate that did not verify.
    case untrustedCertificate(POP3ServerCertificate, reason: String)
    /// A POP3 server on the plain port that does not offer STLS.
    case noTLS
    /// A POP3 server reached without TLS, as asked (`--tls none`).
    case plaintext
    /// Nothing usable: no such host, no answer, not POP3, or TLS broken; the reason for people.
    case failed(String)

    /// Whether this candidate can be used (perhaps after pinning its certificate).
    public var isUsable: Bool {
        switch self {
        case .verified, .untrustedCertificate, .plaintext: true
        case .noTLS, .failed: false
        }
    }
}

/// Connects to candidates with `POP3Client`.
public struct ServerProber: Sendable {
    /// How long connecting, the TLS handshake and each answer may take while probing: a server
    /// that exists answers within seconds, and discovery tries several.
    public static let probeTimeout: Duration = .seconds(10)

    /// How certificates are checked (the system's store, a CA file, or a pinned fingerprint).
    public var trust: POP3ClientConfiguration.Trust
    /// Resolves host names through the DNS server the user gave; nil uses the system's resolver.
    public var resolve: (@Sendable (String) async throws -> [String])?
    public var logger: Logger
    /// Limit for each phase of a connection.
    public var timeout: Duration

    public init(
        trust: POP3ClientConfiguration.Trust,
        resolve: (@Sendable (String) async throws -> [String])?,
        logger: Logger,
        timeout: Duration = ServerProber.probeTimeout
    ) {
        self.trust = trust
        self.resolve = resolve
        self.logger = logger
        self.timeout = timeout
    }

    /// The client configuration for `candidate`: the name for SNI and the certificate check, the
    /// address from the user's DNS server when one was given.
    public func configuration(for candidate: ServerCandidate) async throws(DiscoveryError) -> POP3ClientConfiguration {
        var host = candidate.host
        if let resolve = self.resolve {
            let addresses: [String]
            do {
                addresses = try await resolve(candidate.host)
            } catch {
                throw DiscoveryError("\(candidate.host) could not be looked up: \(error)")
            }
            guard let first = addresses.first else {
                throw DiscoveryError("\(candidate.host) does not exist (the DNS has no address for it)")
            }
            host = first
        }
        let security: POP3ClientConfiguration.Security =
            switch candidate.security {
            case .implicitTLS: .implicitTLS
            case .startTLS: .startTLS
            case .plaintext: .plaintext
            }
        var configuration = POP3ClientConfiguration(
            host: host,
            port: candidate.port,
            security: security,
            trust: self.trust
        )
        configuration.serverName = candidate.host
        configuration.connectTimeout = self.timeout
        configuration.tlsHandshakeTimeout = self.timeout
        configuration.commandTimeout = self.timeout
        return configuration
    }

    /// Connects to `candidate` without credentials and says what it found.
    public func probe(_ candidate: ServerCandidate) async -> ProbeOutcome {
        let configuration: POP3ClientConfiguration
        do {
            configuration = try await self.configuration(for: candidate)
        } catch {
            return .failed(error.message)
        }
        do {
            _ = try await POP3Connection.probe(configuration: configuration, logger: self.logger)
            return candidate.security == .plaintext ? .plaintext : .verified
        } catch let error as POP3ClientError {
            if error.kind == .certificate, let certificate = error.certificate {
                return .untrustedCertificate(certificate, reason: error.message)
            }
            if error.kind == .unsupported, candidate.security == .startTLS {
                return .noTLS
            }
            return .failed(Self.reason(error, candidate: candidate))
        } catch {
            return .failed("\(error)")
        }
    }

    /// The client's message, without the "could not connect to HOST port N: " that the
    /// candidate, shown beside it, says anyway.
    static func reason(_ error: POP3ClientError, candidate: ServerCandidate) -> String {
        if error.kind == .tls || error.kind == .protocolViolation {
            if candidate.security == .implicitTLS {
                return "no TLS on port \(candidate.port) (\(error.message))"
            }
        }
        if error.kind == .network, error.message.hasPrefix("could not connect to "),
            let colon = error.message.firstRange(of: ": ")
        {
            return String(error.message[colon.upperBound...])
        }
        return error.message
    }

    /// Logs in once to prove the account works and returns what waits on the server: the number
    /// of messages and their total size (STAT, RFC 1939 §5). Nothing is downloaded or deleted.
    public func checkLogin(
        _ candidate: ServerCandidate,
        user: String,
        password: String
    ) async throws -> (count: Int, size: Int) {
        let configuration = try await self.configuration(for: candidate)
        return try await POP3Connection.withConnection(
            configuration: configuration,
            credentials: .automatic(user: user, password: password),
            logger: self.logger
        ) { connection in
            let waiting = try await connection.stat()
            try await connection.quit()
            return waiting
        }
    }
}
