// One PostgreSQL database shared by the mail store, the lease and the accounts of a process.
public import Logging
import MailStore
import PostgresNIO
public import ServiceLifecycle

/// A connection pool to the database at a ``PostgresURL``, shared by ``PostgresMailStore`` and
/// ``PostgresAccounts``.
///
/// Connections are taken from the pool for one statement or one transaction and given back at
/// once: a POP3 session holds none while it waits for its client, so thousands of idle sessions
/// need no more than the pool's few connections (`pool_size` in the URL).
///
/// The pool works only while ``run()`` does: `serve` runs it as the first service of its
/// group (so it stops last, after the sessions have ended); one-shot commands use
/// ``withRunning(_:)``.
public final class MailDatabase: Service, Sendable {
    /// Where the database is (``PostgresURL/description`` leaves the password out).
    public let url: PostgresURL
    let client: PostgresClient
    let logger: Logger

    /// A pool for `url`. Nothing connects before the first query.
    public init(url: PostgresURL, logger: Logger = Logger(label: "postgres")) throws {
        self.url = url
        self.logger = logger
        self.client = PostgresClient(configuration: try url.clientConfiguration(), backgroundLogger: logger)
    }

    /// Runs the pool until the task is cancelled or a graceful shutdown begins.
    public func run() async {
        await self.client.run()
    }

    /// Runs the pool while `body` runs, then closes it: for commands that do one job and exit.
    public func withRunning<Result: Sendable>(
        _ body: @Sendable (MailDatabase) async throws -> Result
    ) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (started, starting) = AsyncStream<Void>.makeStream()
            group.addTask {
                starting.finish()
                await self.client.run()
            }
            defer { group.cancelAll() }
            // The pool's task has begun (its first step marks the pool running) before a
            // statement asks for a connection, which postgres-nio would log as a warning.
            for await _ in started {}
            return try await body(self)
        }
    }

    // MARK: - Statements

    /// Runs `query` and collects its rows (small results only: the rows are held in memory).
    @discardableResult
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        do {
            return try await self.client.query(query, logger: self.logger).collect()
        } catch {
            throw DatabaseFailure(error)
        }
    }

    /// Runs `body` in one transaction on one connection: committed when it returns, rolled
    /// back when it throws.
    func transaction<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> Result {
        do {
            return try await self.client.withTransaction(logger: self.logger, body)
        } catch let error as PostgresTransactionError {
            // The closure's own errors (a takeover found inside the transaction) pass unchanged.
            if let closureError = error.closureError as? MailStoreError { throw closureError }
            throw DatabaseFailure(error.closureError ?? error.beginError ?? error.commitError ?? error)
        } catch {
            throw DatabaseFailure(error)
        }
    }

    /// Runs `body` with one connection from the pool, given back when it returns.
    func withConnection<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> Result {
        do {
            return try await self.client.withConnection(body)
        } catch let error as DatabaseFailure {
            throw error
        } catch {
            throw DatabaseFailure(error)
        }
    }
}

/// A database error as PostOffice reports it: the SQLSTATE and the server's message, or the
/// client's error code. Never a statement's parameters (they hold passwords and mail).
public struct DatabaseFailure: Error, Sendable, CustomStringConvertible {
    /// The SQLSTATE (`23505` for a unique violation, …) when the server sent one.
    public let sqlState: String?
    public let description: String

    init(_ error: any Error) {
        if let failure = error as? DatabaseFailure {
            self = failure
            return
        }
        if let error = error as? PSQLError {
            if let info = error.serverInfo {
                let state = info[.sqlState]
                self.sqlState = state
                self.description = "database error \(state ?? "?"): \(info[.message] ?? "no message")"
            } else {
                self.sqlState = nil
                self.description = "database error: \(error.code)"
            }
            return
        }
        self.sqlState = nil
        self.description = "database error: \(String(describing: type(of: error)))"
    }

    init(message: String) {
        self.sqlState = nil
        self.description = message
    }

    /// SQLSTATE 23505: a unique constraint was violated.
    var isUniqueViolation: Bool { self.sqlState == "23505" }
    /// SQLSTATE 40001 or 40P01: a serialization failure or deadlock; the transaction may be retried.
    var isRetryable: Bool { self.sqlState == "40001" || self.sqlState == "40P01" }
}
