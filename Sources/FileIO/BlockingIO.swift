// The package's one way to run blocking work (DESIGN.md, "Nothing blocks an event loop"):
// file-system calls, fsync, SQLite and child processes run on a NIO thread pool, never
// on an event loop and never on Swift's cooperative pool.

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
