// An actor's executor on NIO's blocking pool: for state that is not Sendable (open files, a
// database connection, a spool) and is used by blocking calls, one at a time.

import NIOConcurrencyHelpers
import NIOPosix

/// Runs the jobs of the actors that use it one at a time, in order, on `BlockingIO.pool`.
///
/// An actor whose `unownedExecutor` is one of these keeps non-Sendable state (a delivery target
/// with its open files, a state store) and may block in its methods (write, fsync, SQLite, wait
/// for a child process): that work never occupies Swift's cooperative pool or an event loop.
/// Each call into the actor is one hop onto the pool, so give it batches (a whole message, a
/// window of messages), not a call per small chunk.
///
///     actor Worker {
///         private let executor = BlockingSerialExecutor()
///         nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
///     }
public final class BlockingSerialExecutor: SerialExecutor {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var head = 0
        /// A pool thread is running `drain()`.
        var draining = false
    }

    private let queue = NIOLockedValueBox(Queue())

    public init() {}

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let start = queue.withLockedValue { queue -> Bool in
            queue.jobs.append(job)
            guard !queue.draining else { return false }
            queue.draining = true
            return true
        }
        guard start else { return }
        // BlockingIO.pool is never shut down, so the state is always `.active`; a job is run
        // whatever it says, since an actor whose jobs are dropped would never resume.
        BlockingIO.pool.submit { _ in self.drain() }
    }

    /// Runs queued jobs until none is left; jobs enqueued meanwhile run in the same turn.
    private func drain() {
        while let job = nextJob() {
            job.runSynchronously(on: asUnownedSerialExecutor())
        }
    }

    private func nextJob() -> UnownedJob? {
        queue.withLockedValue { queue in
            guard queue.head < queue.jobs.count else {
                queue.jobs.removeAll(keepingCapacity: true)
                queue.head = 0
                queue.draining = false
                return nil
            }
            defer { queue.head += 1 }
            return queue.jobs[queue.head]
        }
    }
}
