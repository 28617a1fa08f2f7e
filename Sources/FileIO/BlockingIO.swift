// The package's one way to run blocking work (DESIGN.md, "Nothing blocks an event loop"):
// file-system calls, fsync, SQLite and child processes run on NIO's shared thread pool, never
// on an event loop and never on Swift's cooperative pool.

public import NIOPosix

/// Runs blocking work on NIO's shared thread pool and resumes the caller when it is done.
///
/// Batch where you can: one hop that lists a directory and stats its files costs one thread
/// switch, a hop per file costs thousands.
public enum BlockingIO {
    /// The pool blocking work runs on: `NIOThreadPool.singleton`, started on first use.
    public static var pool: NIOThreadPool { NIOThreadPool.singleton }

    /// Runs `work` on the blocking pool. Cancellation does not interrupt work in flight.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await Self.pool.runIfActive(work)
    }
}
