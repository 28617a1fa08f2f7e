// A real PostgreSQL for these tests: the interop harness's server (its own data directory and
// loopback port), started once per test process and stopped when the process ends.
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
    /// server of our own from `Tests/Interop/harness/postgres.py serve`, which stops it when
    /// this process's end closes its standard input.
    static let server: Task<Server, any Error> = Task {
        if let configured = ProcessInfo.processInfo.environment["POSTOFFICE_TEST_POSTGRES_URL"] {
            return Server(adminURL: try PostgresURL(parsing: configured))
        }
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Interop/harness/postgres.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "serve"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // Kept open for the life of the process: its end tells the harness to stop the server.
        keptAlive.withLockedValue { $0.append(input) }
        let line = try await Task.detached { () throws -> String in
            var bytes: [UInt8] = []
            while true {
                let data = output.fileHandleForReading.readData(ofLength: 1)
                guard let byte = data.first else { break }
                if byte == UInt8(ascii: "\n") { break }
                bytes.append(byte)
            }
            return String(decoding: bytes, as: UTF8.self)
        }.value
        struct Started: Decodable {
            var admin_url: String
        }
        guard let started = try? JSONDecoder().decode(Started.self, from: Data(line.utf8)) else {
            throw DatabaseFailure(message: "the test PostgreSQL did not start (see the harness's output)")
        }
        return Server(adminURL: try PostgresURL(parsing: started.admin_url))
    }

    private static let keptAlive = NIOLockedValueBox<[Pipe]>([])
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
