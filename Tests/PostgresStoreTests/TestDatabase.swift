// A real PostgreSQL for these tests: the interop harness's server (its own data directory and
// loopback port), started once per test process and stopped after the process ends.
import FileIO
import Foundation
import Logging
import NIOConcurrencyHelpers
import PostgresNIO

@testable import PostgresStore

enum TestDatabase {
    struct Server: Sendable {
        /// A URL to the server's `postgres` database, for CREATE/DROP DATABASE.
        var adminURL: PostgresURL
    }

    /// `POSTOFFICE_TEST_POSTGRES_URL` (an administrator's URL to a disposable server), or a
    /// server of our own from `Tests/Interop/harness/postgres.py serve --owner PID`, which
    /// returns at once and stops the server when this process has ended.
    static let server: Task<Server, any Error> = Task {
        if let configured = ProcessInfo.processInfo.environment["POSTOFFICE_TEST_POSTGRES_URL"] {
            return Server(adminURL: try PostgresURL(parsing: configured))
        }
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Interop/harness/postgres.py")
        let harness = ChildProcess(
            executable: "/usr/bin/env",
            arguments: ["env", "python3", script.path, "serve", "--owner", String(getpid())]
        )
        let result = try await BlockingIO.run { try harness.run(output: .capture) }
        struct Started: Decodable {
            var admin_url: String
        }
        guard result.termination.succeeded,
            let started = try? JSONDecoder().decode(Started.self, from: Data(result.output))
        else {
            let text = String(decoding: result.output, as: UTF8.self)
            throw DatabaseFailure(message: "the test PostgreSQL did not start (\(result.termination)): \(text)")
        }
        return Server(adminURL: try PostgresURL(parsing: started.admin_url))
    }

    private static let counter = NIOLockedValueBox(0)

    /// Runs `body` with a fresh database whose schema is current, dropped afterwards.
    static func withFresh<Result: Sendable>(
        migrated: Bool = true,
        _ body: @Sendable (MailDatabase) async throws -> Result
    ) async throws -> Result {
        let server = try await server.value
        let number = counter.withLockedValue { value in
            value += 1
            return value
        }
        let name = "t\(getpid())_\(number)_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try MailDatabase(url: server.adminURL)
        return try await admin.withRunning { admin in
            try await admin.rows(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
            var url = server.adminURL
            url.database = name
            let database = try MailDatabase(url: url)
            let result: Result
            do {
                result = try await database.withRunning { database in
                    if migrated { _ = try await Schema.migrate(database) }
                    return try await body(database)
                }
            } catch {
                _ = try? await admin.rows(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
                throw error
            }
            try await admin.rows(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"))
            return result
        }
    }
}
