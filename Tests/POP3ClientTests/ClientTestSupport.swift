// Shared helpers for the client's loopback tests.

import Logging
import NIOCore
import POP3Client
import POP3TestSupport
import TestTiming
import Testing

enum ClientTest {
    static let logger = Logger(label: "pop3client.tests")

    static func configuration(
        port: Int,
        security: POP3ClientConfiguration.Security = .plaintext,
        trust: POP3ClientConfiguration.Trust = .system,
        serverName: String? = nil,
        timeout: Duration? = nil
    ) -> POP3ClientConfiguration {
        // Without a timeout of the test's own, 10 s as a safety net, scaled for slow builds.
        let timeout = timeout ?? TestTimeScale.scaled(.seconds(10))
        var configuration = POP3ClientConfiguration(host: "127.0.0.1", port: port, security: security, trust: trust)
        configuration.serverName = serverName
        configuration.connectTimeout = timeout
        configuration.tlsHandshakeTimeout = timeout
        configuration.commandTimeout = timeout
        return configuration
    }

    /// Runs `body` expecting a `POP3ClientError` and returns it (recording an issue otherwise).
    static func expectError(
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () async throws -> Void
    ) async -> POP3ClientError? {
        do {
            try await body()
            Issue.record("expected an error", sourceLocation: sourceLocation)
            return nil
        } catch let error as POP3ClientError {
            return error
        } catch {
            Issue.record("expected a POP3ClientError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// The error a plaintext USER/PASS session as alice, running `body`, ends in (recording an
    /// issue when it ends in none).
    static func sessionError(
        port: Int,
        password: String = "secret",
        sourceLocation: SourceLocation = #_sourceLocation,
        _ body: (POP3Connection) async throws -> Void = { _ in }
    ) async -> POP3ClientError? {
        await Self.expectError(sourceLocation: sourceLocation) {
            try await POP3Connection.withConnection(
                configuration: Self.configuration(port: port),
                credentials: .userPass(user: "alice", password: password),
                logger: Self.logger,
                body
            )
        }
    }

    /// Collects what `retrieve` hands over: messages by number, and the order of events.
    final class Collector {
        var messages: [Int: [UInt8]] = [:]
        var order: [String] = []
        private var current: Int?

        func handle(_ event: RetrieveEvent) {
            switch event {
            case .begin(let number):
                self.current = number
                self.messages[number] = []
                self.order.append("begin \(number)")
            case .bytes(let buffer):
                self.messages[self.current!, default: []] += buffer.readableBytesView  // safe: begin came first
            case .end(let number):
                self.order.append("end \(number)")
                self.current = nil
            }
        }
    }
}
