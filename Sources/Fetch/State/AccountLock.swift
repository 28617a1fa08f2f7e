// One run per account at a time: flock(2) on a lock file next to the state.
import FileIO
import SystemPackage

/// An exclusive, non-blocking `flock` on `<state>.lock`. The kernel releases it when the process
/// dies, so a crashed run never leaves the account locked.
public final class AccountLock: Sendable {
    private let file: File
    /// The lock file.
    public let path: String

    /// Takes the lock or throws a `FetchFailure` of kind `.locked` when another run holds it.
    public init(path: String) throws {
        self.path = path
        let file: File
        do {
            file = try File.open(FilePath(path), .readWrite, options: [.create])
        } catch {
            throw FetchFailure(kind: .localWrite, message: "cannot open the lock file: \(error)")
        }
        let locked: Bool
        do {
            locked = try file.lock(wait: false)
        } catch {
            file.closeQuietly()
            throw FetchFailure(kind: .localWrite, message: "cannot lock: \(error)")
        }
        guard locked else {
            file.closeQuietly()
            throw FetchFailure(kind: .locked, message: "another fetch of this account is running (lock file \(path))")
        }
        self.file = file
    }

    /// Releases the lock now (a lock that is only dropped may be released later than the run
    /// ends: the last reference can live on in another thread for a moment). Never blocks.
    public func release() {
        file.unlock()
    }

    deinit {
        // Closing the descriptor releases the flock.
        file.closeQuietly()
    }
}
