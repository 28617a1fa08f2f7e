// Test support: an LMTPServer on loopback (TCP port 0 and a Unix socket) for one test.
import Accounts
import Foundation
import LMTPCore
import LMTPServer
import Logging
import MailStore
import NIOConcurrencyHelpers
import NIOCore
import POP3TestSupport
import ServiceLifecycle

/// A fresh directory, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        // Short: a Unix socket path is limited to 107 bytes.
        path = "/tmp/lmtp-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// The files in `user`'s `new/` (path template `<dir>/mail/%u/Maildir`), sorted by name.
    func delivered(_ user: String) -> [String] {
        let directory = "\(path)/mail/\(user)/Maildir/new"
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    /// The contents of `user`'s delivered messages.
    func messages(_ user: String) -> [String] {
        delivered(user).map { name in
            let data = FileManager.default.contents(atPath: "\(path)/mail/\(user)/Maildir/new/\(name)") ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    func maildirStore() throws -> MaildirStore {
        try MaildirStore(template: "\(path)/mail/%u/Maildir")
    }
}

/// A store that fails deliveries for chosen users and otherwise passes them on.
final class FaultyStore: MailStore {
    let base: any MailStore
    private let failures = NIOLockedValueBox<[String: MailStoreError]>([:])

    init(base: any MailStore) { self.base = base }

    func fail(user: String, with error: MailStoreError?) {
        failures.withLockedValue { $0[user] = error }
    }

    func openMaildrop(user: String) async throws -> any Maildrop { try await base.openMaildrop(user: user) }

    func deliver(user: String, message: [UInt8]) async throws -> String {
        if let error = failures.withLockedValue({ $0[user] }) { throw error }
        return try await base.deliver(user: user, message: message)
    }
}

/// Runs an LMTPServer for the duration of `body`.
struct TestLMTPServer {
    var tcpPort: Int
    var socketPath: String
    var server: LMTPServer
    var log: LogLines
    /// Starts a graceful shutdown (SIGTERM's effect) without waiting for it.
    var shutdown: @Sendable () async -> Void

    @discardableResult
    static func with<Result>(
        directory: ScratchDirectory,
        store: (any MailStore)? = nil,
        accounts: any AccountProvider = InMemoryAccounts(["alice": "a", "bob": "b", "carol@example.org": "c"]),
        configure: (inout LMTPServerConfiguration) -> Void = { _ in },
        _ body: (TestLMTPServer) async throws -> Result
    ) async throws -> Result {
        let log = LogLines()
        let socketPath = directory.path + "/lmtp.sock"
        var configuration = LMTPServerConfiguration(
            endpoints: [.tcp(host: "127.0.0.1", port: 0), .unix(path: socketPath)],
            hostname: "lmtp.test",
            shutdownGracePeriod: .seconds(5),
            accountProvider: accounts,
            mailStore: try store ?? directory.maildirStore(),
            logger: log.logger(label: "lmtp")
        )
        configure(&configuration)
        let server = LMTPServer(configuration: configuration)
        let group = ServiceGroup(
            services: [server],
            gracefulShutdownSignals: [],
            logger: Logger(label: "group") { _ in SwiftLogNoOpLogHandler() }
        )
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                let endpoints = try await server.boundEndpoints()
                var port = 0
                for case .tcp(_, let bound) in endpoints { port = bound }
                let testServer = TestLMTPServer(
                    tcpPort: port,
                    socketPath: socketPath,
                    server: server,
                    log: log,
                    shutdown: { await group.triggerGracefulShutdown() }
                )
                let result = try await body(testServer)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                tasks.cancelAll()
                throw error
            }
        }
    }

    func tcp<Result>(_ body: (POP3LineClient) async throws -> Result) async throws -> Result {
        try await POP3LineClient.withConnection(port: tcpPort, body)
    }

    func unix<Result>(_ body: (POP3LineClient) async throws -> Result) async throws -> Result {
        try await POP3LineClient.withConnection(unixDomainSocketPath: socketPath, body)
    }
}

extension POP3LineClient {
    /// Reads the greeting and sends LHLO; returns the LHLO reply's lines.
    @discardableResult
    func lhlo() async throws -> [String] {
        let greeting = try await line()
        guard greeting.hasPrefix("220 ") else { throw ClientError.unexpected(greeting) }
        try await send("LHLO client.test\r\n")
        return try await reply()
    }

    /// The lines of one (possibly multi-line) reply.
    func reply() async throws -> [String] {
        var lines: [String] = []
        while true {
            let text = try await line()
            lines.append(text)
            if text.count < 4 || text[text.index(text.startIndex, offsetBy: 3)] != "-" { return lines }
        }
    }

    /// The next `count` replies' last lines.
    func replies(_ count: Int) async throws -> [String] {
        var collected: [String] = []
        for _ in 0..<count { collected.append(try await reply().last ?? "") }
        return collected
    }
}

/// CRLF-terminated lines.
func crlf(_ lines: String...) -> String {
    lines.map { $0 + "\r\n" }.joined()
}
