// Polling: fetch every account every interval, back off on errors, reload when asked.
public import Logging
public import ServiceLifecycle
import Synchronization

/// Runs `runFetch` for each account every `interval` under a `ServiceGroup`.
///
/// - An account that fails waits longer before its next attempt: `errorBackoff(failures:)`, up to
///   `maximumBackoff`, with random jitter so many clients do not return in step.
/// - `requestReload()` (the command line calls it on SIGHUP) makes it call `reload` between runs
///   and continue with its accounts.
/// - Graceful shutdown (the `ServiceGroup`'s, on SIGTERM) finishes the message in flight,
///   deletes on the server only what is stored and recorded, sends `QUIT`, and returns.
///
/// It installs no signal handler: signals are the command line's (`Signals` there).
public final class FetchService: Service, Sendable {
    private let initialAccounts: [FetchAccount]
    private let interval: Duration
    private let maximumBackoff: Duration
    private let options: FetchOptions
    private let logger: Logger
    private let reload: (@Sendable () async throws -> [FetchAccount])?
    private let onReport: (@Sendable (FetchReport) async -> Void)?
    private let reloadRequested = Atomic<Bool>(false)

    /// - Parameters:
    ///   - interval: time between successful runs of an account.
    ///   - maximumBackoff: the longest wait after repeated errors.
    ///   - reload: returns the accounts to use after `requestReload()`; nil ignores requests.
    ///   - onReport: called after each round with its report.
    public init(
        accounts: [FetchAccount],
        interval: Duration,
        maximumBackoff: Duration = .seconds(3600),
        options: FetchOptions = FetchOptions(),
        logger: Logger,
        reload: (@Sendable () async throws -> [FetchAccount])? = nil,
        onReport: (@Sendable (FetchReport) async -> Void)? = nil
    ) {
        self.initialAccounts = accounts
        self.interval = interval
        self.maximumBackoff = maximumBackoff
        self.options = options
        self.logger = logger
        self.reload = reload
        self.onReport = onReport
    }

    /// Asks for a reload before the next round (the command line's SIGHUP trigger).
    public func requestReload() {
        reloadRequested.store(true, ordering: .sequentiallyConsistent)
    }

    /// The wait after `failures` consecutive failures of an account, before jitter:
    /// `max(interval, 30 s) × 2^(failures−1)`, at most `maximumBackoff`.
    public func errorBackoff(failures: Int) -> Duration {
        let base = max(interval, .seconds(30))
        var delay = base
        for _ in 1..<max(1, min(failures, 30)) {
            delay = delay * 2
            if delay >= maximumBackoff { return maximumBackoff }
        }
        return min(delay, maximumBackoff)
    }

    public func run() async throws {
        let stop = options.stop
        try await withGracefulShutdownHandler {
            try await loop()
        } onGracefulShutdown: {
            stop.requestStop()
        }
    }

    private func loop() async throws {
        var accounts = initialAccounts
        var failures: [String: Int] = [:]
        var due: [String: ContinuousClock.Instant] = [:]
        let clock = ContinuousClock()
        while !options.stop.isStopRequested && !Task.isCancelled {
            if reloadRequested.exchange(false, ordering: .sequentiallyConsistent), let reload {
                do {
                    accounts = try await reload()
                    logger.info("configuration reloaded", metadata: ["accounts": "\(accounts.count)"])
                } catch {
                    logger.error("reload failed; keeping the previous accounts", metadata: ["error": "\(error)"])
                }
            }
            let now = clock.now
            let ready = accounts.filter { (due[$0.name] ?? now) <= now }
            if !ready.isEmpty {
                let report = await runFetch(accounts: ready, options: options, logger: logger)
                for account in report.accounts {
                    if account.succeeded {
                        failures[account.account] = 0
                        due[account.account] = clock.now + interval
                    } else {
                        let count = (failures[account.account] ?? 0) + 1
                        failures[account.account] = count
                        due[account.account] = clock.now + jittered(errorBackoff(failures: count))
                        logger.warning(
                            "account failed; backing off",
                            metadata: ["account": "\(account.account)", "failures": "\(count)"]
                        )
                    }
                }
                await onReport?(report)
            }
            let names = Set(accounts.map(\.name))
            let next = due.filter { names.contains($0.key) }.values.min() ?? (clock.now + interval)
            // Sleep in slices so a reload or a stop is noticed within a second.
            while clock.now < next && !options.stop.isStopRequested && !Task.isCancelled
                && !reloadRequested.load(ordering: .sequentiallyConsistent)
            {
                let slice = min(next - clock.now, .seconds(1))
                try? await Task.sleep(for: slice)
            }
        }
    }

    private func jittered(_ delay: Duration) -> Duration {
        // Up to +20 %.
        delay + delay * Double.random(in: 0..<0.2)
    }
}
