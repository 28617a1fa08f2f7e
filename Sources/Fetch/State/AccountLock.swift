// One run per account at a time: flock(2) on a lock file next to the state.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive, non-blocking `flock` on `<state>.lock`. The kernel releases it when the process
/// dies, so a crashed run never leaves the account locked.
public final class AccountLock: Sendable {
    private let descriptor: Int32
    /// The lock file.
    public let path: String

    /// Takes the lock or throws a `FetchFailure` of kind `.locked` when another run holds it.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw FetchFailure(kind: .localWrite, message: "cannot open the lock file \(path): \(systemError())")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK {
                throw FetchFailure(
                    kind: .locked,
                    message: "another fetch of this account is running (lock file \(path))"
                )
            }
            throw FetchFailure(kind: .localWrite, message: "cannot lock \(path): \(systemError(code))")
        }
        descriptor = fd
    }

    /// Releases the lock now (a lock that is only dropped may be released later than the run
    /// ends: the last reference can live on in another thread for a moment). Never blocks.
    public func release() {
        flock(descriptor, LOCK_UN)
    }

    deinit {
        // Closing the descriptor releases the flock.
        close(descriptor)
    }
}

/// `strerror` of `errno` (or of `code`).
func systemError(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
