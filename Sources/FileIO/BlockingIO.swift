// The package's one way to run blocking work (DESIGN.md, "Nothing blocks an event loop"):
// file-system calls, fsync, SQLite, child processes and password hashing run on NIO thread
// pools, never on an event loop and never on Swift's cooperative pool.

import NIOConcurrencyHelpers
import NIOCore
public import NIOPosix

/// Runs blocking work on a NIO thread pool of its own and resumes the caller when it is done.
///
/// Batch where you can: one hop that lists a directory and stats its files costs one thread
/// switch, a hop per file costs thousands.
public enum BlockingIO {
    /// The pool blocking work runs on, started on first use and never stopped.
    ///
    /// Not `NIOThreadPool.singleton`, which has one thread per core: blocking work mostly waits
    /// (on the disk, an fsync, a child process), and with two threads two slow fsyncs held up
    /// every login's password check behind them.
    public static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: threadCount)
        // Named, so a stack dump or a test can tell these threads from NIO's other pools.
        pool._start(threadNamePrefix: threadNamePrefix)
        return pool
    }()

    /// The name of each of `pool`'s threads is this and a number.
    public static let threadNamePrefix = "PO-BLOCKING-#"

    /// Threads of `pool`: four per core, at least 16.
    public static let threadCount = max(16, 4 * System.coreCount)

    /// Runs `work` on the blocking pool. Cancellation does not interrupt work in flight.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await Self.pool.runIfActive(work)
    }
}

/// The shared progress of one `concurrentMap`.
private struct ConcurrentMapState<Output: Sendable>: Sendable {
    var results: [Output?]
    /// The next input no worker has taken.
    var next = 0
    /// Inputs taken and not finished.
    var running = 0
}

/// A dedicated NIO thread pool for CPU-heavy blocking work (password hashing, parsing a batch
/// of messages), so such a burst cannot occupy every thread of the shared pool that file I/O
/// hops (`BlockingIO`) need. Same mechanism as `BlockingIO`, separate threads.
public final class BlockingThreadPool: Sendable {
    private let pool: NIOThreadPool
    /// How many threads it runs.
    public let threadCount: Int

    /// Starts `threadCount` threads; they live as long as the value.
    public init(threadCount: Int) {
        precondition(threadCount > 0, "a pool needs a thread")
        self.threadCount = threadCount
        self.pool = NIOThreadPool(numberOfThreads: threadCount)
        self.pool.start()
    }

    deinit {
        self.pool.shutdownGracefully { _ in }
    }

    /// Runs `work` on one of the pool's threads and resumes the caller with its result.
    public func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        do {
            return try await self.pool.runIfActive(work)
        } catch {
            // The pool is shut down only by deinit, which cannot run while we hold `self`.
            preconditionFailure("blocking thread pool is not running: \(error)")
        }
    }

    /// The number of threads for CPU-bound work: the online cores, at least 2 and at most 16.
    public static var defaultThreadCount: Int {
        min(max(System.coreCount, 2), 16)
    }

    /// Applies `transform` to every input, several at a time, and waits for all of them: for a
    /// synchronous caller (a command-line thread) with many independent blocking jobs, such as
    /// reading and parsing a batch of files. Results keep the inputs' order.
    ///
    /// The calling thread works through the inputs too, and the pool's threads help as they
    /// become free, so it finishes even when every pool thread is busy (or the caller is one of
    /// them). It blocks the calling thread: async code uses `run(_:)`.
    public func concurrentMap<Input: Sendable, Output: Sendable>(
        _ inputs: [Input],
        _ transform: @escaping @Sendable (Input) -> Output
    ) -> [Output] {
        guard !inputs.isEmpty else { return [] }
        let state = NIOLockedValueBox(ConcurrentMapState<Output>(results: Array(repeating: nil, count: inputs.count)))
        let idle = ConditionLock(value: true)
        // Takes inputs until none is left; returns when this worker has no more to do.
        @Sendable func work() {
            while true {
                let index: Int? = state.withLockedValue { state in
                    guard state.next < inputs.count else { return nil }
                    defer { state.next += 1 }
                    state.running += 1
                    return state.next
                }
                guard let index else { return }
                idle.lock()
                idle.unlock(withValue: false)
                let output = transform(inputs[index])
                let finished = state.withLockedValue { state in
                    state.results[index] = output
                    state.running -= 1
                    return state.running == 0 && state.next >= inputs.count
                }
                if finished {
                    idle.lock()
                    idle.unlock(withValue: true)
                }
            }
        }
        for _ in 1..<min(inputs.count, self.threadCount + 1) {
            self.pool.submit { _ in work() }
        }
        work()
        // Wait for items other workers are still running.
        while !state.withLockedValue({ $0.running == 0 && $0.next >= inputs.count }) {
            idle.lock(whenValue: true)
            idle.unlock()
        }
        return state.withLockedValue { $0.results.map { $0! } }  // safe: every slot was filled
    }
}
