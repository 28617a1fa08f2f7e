// Test support: running a server (any swift-service-lifecycle Service) for one test, and
// capturing what it logs.
public import Logging
import NIOConcurrencyHelpers
public import ServiceLifecycle

/// Collects log lines, so tests can check what is (and is not) logged.
public final class LogLines: Sendable {
    private let storage = NIOLockedValueBox<[String]>([])

    public init() {}

    /// The messages logged so far, in order.
    public var lines: [String] { self.storage.withLockedValue { $0 } }

    public func append(_ line: String) { self.storage.withLockedValue { $0.append(line) } }

    /// A logger whose messages (at `.info` and above) land here.
    public func logger(label: String) -> Logger {
        Logger(label: label) { _ in LogLinesHandler(sink: self) }
    }
}

/// A `LogHandler` that appends each message to a ``LogLines``.
public struct LogLinesHandler: LogHandler {
    public let sink: LogLines
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info

    public init(sink: LogLines) {
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) { self.sink.append("\(event.message)") }
}

/// Runs `service` in a service group of its own (no signal handlers) while `body` runs; then
/// shuts it down gracefully and waits for it. `body` gets the trigger for a graceful shutdown
/// (what SIGTERM does), to test shutdown itself.
public func withRunningService<Result>(
    _ service: some Service,
    _ body: (_ shutdown: @escaping @Sendable () async -> Void) async throws -> Result
) async throws -> Result {
    let group = ServiceGroup(
        services: [service],
        gracefulShutdownSignals: [],
        logger: Logger(label: "group") { _ in SwiftLogNoOpLogHandler() }
    )
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            let result = try await body { await group.triggerGracefulShutdown() }
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
