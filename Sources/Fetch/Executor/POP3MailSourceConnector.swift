// Sessions over POP3Client's POP3Connection (the contract in the client module).
import FileIO
import Logging
import POP3Client
import SASL

/// Opens POP3 sessions for an account with `POP3Connection.withConnection`, which closes the
/// connection without `QUIT` when the body throws (so the server deletes nothing, RFC 1939 §6).
struct POP3MailSourceConnector: MailSourceConnector {
    let account: FetchAccount
    let logger: Logger

    func withSource<R: Sendable>(_ body: (any MailSource) async throws -> R) async throws -> R {
        // A password command may wait on a person (a pinentry), and a file read blocks: on the
        // blocking pool, not on one of the few threads Swift concurrency shares among accounts.
        let source = account.password
        let secret = try await BlockingIO.run { try source.resolve() }
        do {
            return try await POP3Connection.withConnection(
                configuration: configuration,
                credentials: credentials(secret),
                logger: logger
            ) { connection in
                try await body(POP3MailSource(connection: connection))
            }
        } catch let error as POP3ClientError {
            throw classify(error)
        }
    }

    /// The client's settings for this account (timeouts from `FetchAccount.timeout`).
    var configuration: POP3ClientConfiguration {
        var configuration = POP3ClientConfiguration(
            host: account.host,
            port: account.port,
            security: security,
            trust: trust
        )
        configuration.pipelineWindow = max(1, account.pipelineWindow)
        configuration.commandTimeout = account.timeout
        configuration.connectTimeout = min(account.timeout, .seconds(30))
        configuration.tlsHandshakeTimeout = min(account.timeout, .seconds(30))
        configuration.scramMaximumIterations = account.scramMaximumIterations
        return configuration
    }

    private var security: POP3ClientConfiguration.Security {
        switch account.security {
        case .implicitTLS: return .implicitTLS
        case .startTLS: return .startTLS
        case .plaintext: return .plaintext
        }
    }

    private var trust: POP3ClientConfiguration.Trust {
        switch account.trust {
        case .system: return .system
        case .caFile(let path): return .caFile(path)
        case .fingerprint(let digest): return .fingerprint(digest)
        case .insecure: return .insecure
        }
    }

    private func credentials(_ secret: String) -> POP3Credentials {
        let user = account.user
        switch account.authMechanism {
        case .automatic: return .automatic(user: user, password: secret)
        case .userPass: return .userPass(user: user, password: secret)
        case .apop: return .apop(user: user, password: secret)
        case .plain: return .sasl(mechanism: .plain, user: user, password: secret)
        case .login: return .sasl(mechanism: .login, user: user, password: secret)
        case .scramSHA256: return .sasl(mechanism: .scramSHA256, user: user, password: secret)
        case .xoauth2: return .oauth(mechanism: .xoauth2, user: user, token: secret)
        case .oauthBearer: return .oauth(mechanism: .oauthBearer, user: user, token: secret)
        }
    }

    /// Maps the client's error kinds onto the fetch engine's exit-code classes.
    func classify(_ error: POP3ClientError) -> FetchFailure {
        let kind: FetchErrorKind
        switch error.kind {
        case .authentication: kind = .authentication
        case .tls, .certificate: kind = .tls
        case .network, .timeout, .protocolViolation, .inUse: kind = .network
        case .unsupported: kind = account.security == .startTLS ? .tls : .other
        default: kind = .other
        }
        return FetchFailure(kind: kind, message: error.message)
    }
}

/// `MailSource` over a live `POP3Connection`.
struct POP3MailSource: MailSource {
    let connection: POP3Connection

    func list() async throws -> [SourceListEntry] {
        try await connection.list()
    }

    func uidl() async throws -> [SourceUIDLEntry]? {
        do {
            return try await connection.uidl()
        } catch let error as POP3ClientError where error.kind == .serverError || error.kind == .unsupported {
            // RFC 1939 §7: UIDL is optional; -ERR means the server has none.
            return nil
        }
    }

    func retrieve(
        _ messages: [SourceListEntry],
        sendingWhile shouldSend: () -> Bool,
        _ body: (SourceEvent) async throws -> Void
    ) async throws {
        try await connection.retrieve(messages, sendingWhile: shouldSend, body)
    }

    func top(_ number: Int, lines: Int, _ body: (SourceEvent) async throws -> Void) async throws {
        try await connection.top(number, lines: lines, body)
    }

    func delete(_ numbers: [Int]) async throws {
        try await connection.delete(numbers)
    }

    func quit() async throws {
        try await connection.quit()
    }
}
