// The threads password hashing and passwd-file reads run on, so that neither ever runs on the
// caller's thread (an event loop, in the server) or Swift's cooperative pool. DESIGN.md
// invariant 4.
import FileIO

/// The blocking pool of the account providers: FileIO's `BlockingThreadPool`, the package's
/// one mechanism for blocking work, with threads of its own so a burst of logins (each hash
/// costs milliseconds of CPU) cannot take the threads file I/O needs.
enum HashingPool {
    /// Shared by every account provider in the process: hashing is CPU-bound, so more threads
    /// than cores would only add contention.
    static let shared = BlockingThreadPool(threadCount: BlockingThreadPool.defaultThreadCount)
}
