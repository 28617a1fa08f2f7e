import Accounts
import Logging
import MailStore
import NIOConcurrencyHelpers
import NIOCore
import POP3Core
import POP3Server
import POP3TestSupport
import SASL
import ServiceLifecycle

/// Runs a POP3Server on 127.0.0.1 port 0 for the duration of `body`.
struct TestServer {
    var store: TestMailStore
    var plainPort: Int
    var tlsPort: Int?
    var server: POP3Server
    var log: LogLines
    var ca: TestCertificateAuthority?
    /// Starts a graceful shutdown (SIGTERM's effect) without waiting for it.
    var shutdown: @Sendable () async -> Void

    @discardableResult
    static func with<Result>(
        store: TestMailStore = TestMailStore(),
        accounts: InMemoryAccounts = InMemoryAccounts(["alice": "secret", "bob": "hunter2"]),
        tls: Bool = false,
        configure: (inout POP3ServerConfiguration) -> Void = { _ in },
        _ body: (TestServer) async throws -> Result
    ) async throws -> Result {
        let log = LogLines()
        let logger = log.logger(label: "test")
        let ca = tls ? try TestCertificateAuthority() : nil
        var listeners = [POP3ServerConfiguration.Listener(host: "127.0.0.1", port: 0, implicitTLS: false)]
        var files: POP3ServerConfiguration.TLSFiles?
        if let ca {
            let written = try ca.writeServerFiles()
            files = .init(certificatePath: written.certificatePath, keyPath: written.keyPath)
            listeners.append(.init(host: "127.0.0.1", port: 0, implicitTLS: true))
        }
        var configuration = POP3ServerConfiguration(
            listeners: listeners,
            tls: files,
            authFailureDelay: 0,
            shutdownGracePeriod: .seconds(2),
            accountProvider: accounts,
            mailStore: store,
            logger: logger
        )
        configure(&configuration)
        let server = POP3Server(configuration: configuration)
        return try await withRunningService(server) { shutdown in
            let addresses = try await server.boundAddresses()
            let testServer = TestServer(
                store: store,
                plainPort: addresses[0].port!,
                tlsPort: addresses.count > 1 ? addresses[1].port : nil,
                server: server,
                log: log,
                ca: ca,
                shutdown: shutdown
            )
            return try await body(testServer)
        }
    }

    /// Connects to the plaintext listener.
    func connect<Result>(_ body: (POP3LineClient) async throws -> Result) async throws -> Result {
        try await POP3LineClient.withConnection(port: plainPort, body)
    }

    /// Logs in as alice on the plaintext listener (loopback allows cleartext).
    func loggedIn<Result>(
        user: String = "alice",
        password: String = "secret",
        _ body: (POP3LineClient) async throws -> Result
    ) async throws -> Result {
        try await connect { client in
            let greeting = try await client.line()
            guard greeting.hasPrefix("+OK") else { throw POP3LineClient.ClientError.unexpected(greeting) }
            _ = try await client.command("USER \(user)")
            let reply = try await client.command("PASS \(password)")
            guard reply.hasPrefix("+OK") else { throw POP3LineClient.ClientError.unexpected(reply) }
            return try await body(client)
        }
    }
}

extension TestServer {
    /// Plays a transcript against the plaintext listener (`!starttls` trusts the test CA).
    @discardableResult
    func play(
        _ text: String,
        substitutions: [String: TranscriptRunner.Substitution] = [:],
        deadline: TimeAmount = .seconds(20)
    ) async throws -> [String: String] {
        let runner = TranscriptRunner(
            port: plainPort,
            startTLS: try ca?.clientContext(),
            substitutions: substitutions,
            deadline: deadline
        )
        return try await runner.run(Transcript(text))
    }
}
