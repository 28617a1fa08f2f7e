// A few dedicated threads for password hashing and passwd-file reads, so that neither ever runs
// on the caller's thread (an event loop, in the server). DESIGN.md invariant 4.
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs blocking work on a small fixed set of serial queues and resumes the caller when done.
final class HashingPool: Sendable {
    /// Shared by every account provider in the process: hashing is CPU-bound, so more threads than
    /// cores would only add contention.
    static let shared = HashingPool(threadCount: HashingPool.defaultThreadCount)

    private let queues: [DispatchQueue]
    private let nextQueue = Atomic<Int>(0)

    init(threadCount: Int) {
        precondition(threadCount > 0)
        queues = (0..<threadCount).map { DispatchQueue(label: "postoffice.accounts.hashing.\($0)") }
    }

    func run<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
        let ticket = nextQueue.wrappingAdd(1, ordering: .relaxed).oldValue
        let queue = queues[Int(UInt(bitPattern: ticket) % UInt(queues.count))]
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }

    private static var defaultThreadCount: Int {
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return min(max(online, 2), 16)
    }
}
