// The one place in the package that handles process signals.
import Glibc
import Logging
import ServiceLifecycle
import UnixSignals

/// Signals are handled once, here in the command line, through swift-service-lifecycle:
/// SIGTERM and SIGINT start the `ServiceGroup`'s graceful shutdown, SIGHUP calls a library's
/// reload trigger. Libraries (`FetchService`, the server) install no handler of their own: they
/// take a trigger (`FetchService.requestReload()`, a graceful-shutdown handler).
enum Signals {
    /// Finish what is in flight, then stop.
    static let gracefulShutdown: [UnixSignal] = [.sigterm, .sigint]
    /// Read the configuration again.
    static let reload = UnixSignal.sighup

    /// Runs `services` until they end; SIGTERM/SIGINT shut them down gracefully, and SIGHUP
    /// calls `reload` (when given) each time it arrives.
    static func run(
        _ services: [any Service],
        reload: (@Sendable () -> Void)? = nil,
        logger: Logger
    ) async throws {
        try await group(services, reload: reload, logger: logger).run()
    }

    /// The group `run(_:reload:logger:)` runs.
    static func group(_ services: [any Service], reload: (@Sendable () -> Void)?, logger: Logger) -> ServiceGroup {
        // A service that is done (a one-shot fetch) ends the group as a shutdown would, not as a failure.
        var configurations = services.map {
            ServiceGroupConfiguration.ServiceConfiguration(
                service: $0,
                successTerminationBehavior: .gracefullyShutdownGroup
            )
        }
        if let reload {
            // It ends at the start of a graceful shutdown; that must not cancel the others.
            configurations.append(
                .init(service: ReloadOnSignal(reload: reload), successTerminationBehavior: .ignore)
            )
        }
        return ServiceGroup(
            configuration: .init(services: configurations, gracefulShutdownSignals: gracefulShutdown, logger: logger)
        )
    }

    /// Runs `body` to its end and returns its result; SIGTERM/SIGINT call `onShutdown` (which
    /// asks `body` to finish early) instead of killing the process.
    static func runToCompletion<Result: Sendable>(
        logger: Logger,
        onShutdown: @escaping @Sendable () -> Void,
        _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        let outcome = Outcome<Result>()
        let service = ClosureService {
            try await withGracefulShutdownHandler {
                await outcome.set(try await body())
            } onGracefulShutdown: {
                onShutdown()
            }
        }
        try await run([service], logger: logger)
        guard let result = await outcome.value else { throw CancellationError() }
        return result
    }

    /// A SIGHUP that arrives before the group traps it (while the server binds and announces its
    /// listeners) must not end the process, which is SIGHUP's default action: ignore it until then.
    static func ignoreReloadUntilTrapped() {
        signal(SIGHUP, SIG_IGN)
    }
}

/// Calls `reload` on every SIGHUP until the group shuts down.
private struct ReloadOnSignal: Service {
    let reload: @Sendable () -> Void

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: Signals.reload).cancelOnGracefulShutdown() {
            reload()
        }
    }
}

/// The result of `Signals.runToCompletion`'s body.
private actor Outcome<Value: Sendable> {
    private(set) var value: Value?

    func set(_ value: Value) {
        self.value = value
    }
}
