// Running blocking file-system calls off the caller's executor, so no event loop and no
// cooperative-pool thread waits on the disk (DESIGN.md, "Nothing blocks an event loop").

import Dispatch

/// Runs blocking work on a concurrent dispatch queue and resumes the caller when it is done.
enum BlockingIO {
    private static let queue = DispatchQueue(label: "postoffice.mailstore.blocking-io", attributes: .concurrent)

    /// Runs `work` on the blocking-I/O queue. Cancellation does not interrupt work in flight.
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let result: Result<T, any Error> = await withCheckedContinuation { continuation in
            Self.queue.async {
                continuation.resume(returning: Result { try work() })
            }
        }
        return try result.get()
    }
}
