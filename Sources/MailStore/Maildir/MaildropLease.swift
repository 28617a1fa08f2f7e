// The lease behind a session's exclusive hold on a Maildir, with takeover of silent sessions.

import NIOConcurrencyHelpers
import SystemPackage

/// One session's claim on a Maildir: an flock (`MaildropLockFile`) plus a generation.
///
/// RFC 1939 §8 wants the maildrop locked for the whole session, but a client that vanished
/// without closing its connection (a laptop put to sleep) would then lock its owner out until
/// the server's idle timeout. So the lock is a lease:
///
/// 1. Opening takes the flock (`inUse` if another session has it) and writes a new generation
///    line into the lock file.
/// 2. Each `touch()` (and each chunk read, each commit) records activity.
/// 3. A timer in the holder releases the flock once the session has been silent for
///    `takeoverAfter`, but keeps the snapshot. The session is not over: nobody may want the
///    maildrop.
/// 4. The next `touch()` of a released session takes the flock again. If it cannot (a newer
///    session holds it), or the generation in the file is no longer its own (a newer session
///    held it and left), the session was taken over: `touch()` and `commitDeletions` throw
///    `.takenOver` from then on, and nothing is deleted.
///
/// No release happens while a read or a commit is running. A holder whose process is stopped
/// or hung cannot run its timer, so it keeps the lock until it dies; the kernel then drops it.
final class MaildropLease: Sendable {
    private enum State {
        case held(MaildropLockFile)
        case released
        case lost
        case closed
    }

    private struct Inner {
        var state: State
        var lastActivity: ContinuousClock.Instant
        var operationsRunning = 0
        var timer: Task<Void, Never>?
    }

    let lockPath: FilePath
    let takeoverAfter: Duration
    /// The generation line this session wrote when it took the lock.
    let generation: [UInt8]
    private let inner: NIOLockedValueBox<Inner>

    /// Takes the lease, or throws `.inUse`. Blocking: call it off the event loop.
    static func acquire(lockPath: FilePath, takeoverAfter: Duration) throws -> MaildropLease {
        guard let lockFile = try MaildropLockFile.acquire(path: lockPath) else { throw MailStoreError.inUse }
        let generation: [UInt8]
        do {
            generation = try lockFile.writeNextGeneration()
        } catch {
            lockFile.release()
            throw error
        }
        return MaildropLease(lockFile: lockFile, generation: generation, takeoverAfter: takeoverAfter)
    }

    private init(lockFile: MaildropLockFile, generation: [UInt8], takeoverAfter: Duration) {
        self.lockPath = lockFile.path
        self.generation = generation
        self.takeoverAfter = takeoverAfter
        self.inner = NIOLockedValueBox(Inner(state: .held(lockFile), lastActivity: .now))
        self.startTimer()
    }

    deinit {
        self.close()
    }

    /// Whether the session still holds the flock right now.
    var isHeld: Bool {
        self.inner.withLockedValue { inner in
            if case .held = inner.state { return true }
            return false
        }
    }

    /// Records activity. Returns `true` when the lease is held; `false` when it was released
    /// for silence and `reacquire()` must run (it blocks). Throws when it is lost or closed.
    func recordActivity() throws -> Bool {
        try self.inner.withLockedValue { inner in
            switch inner.state {
            case .held:
                inner.lastActivity = .now
                return true
            case .released:
                return false
            case .lost:
                throw MailStoreError.takenOver
            case .closed:
                throw MailStoreError.io("maildrop is closed")
            }
        }
    }

    /// Takes a released lease back, or finds it was taken over. Blocking.
    func reacquire() throws {
        let restartTimer: Bool = try self.inner.withLockedValue { inner in
            switch inner.state {
            case .held:
                inner.lastActivity = .now
                return false
            case .lost:
                throw MailStoreError.takenOver
            case .closed:
                throw MailStoreError.io("maildrop is closed")
            case .released:
                guard let lockFile = try MaildropLockFile.acquire(path: self.lockPath) else {
                    inner.state = .lost
                    throw MailStoreError.takenOver
                }
                let current: [UInt8]
                do {
                    current = try lockFile.readGeneration()
                } catch {
                    lockFile.release()
                    throw error
                }
                guard current == self.generation else {
                    lockFile.release()
                    inner.state = .lost
                    throw MailStoreError.takenOver
                }
                inner.state = .held(lockFile)
                inner.lastActivity = .now
                return true
            }
        }
        if restartTimer {
            self.startTimer()
        }
    }

    /// Marks the start of a read or commit, during which the lease is not released.
    func beginOperation() throws -> Bool {
        try self.inner.withLockedValue { inner in
            switch inner.state {
            case .held:
                inner.lastActivity = .now
                inner.operationsRunning += 1
                return true
            case .released:
                return false
            case .lost:
                throw MailStoreError.takenOver
            case .closed:
                throw MailStoreError.io("maildrop is closed")
            }
        }
    }

    /// Marks the end of an operation started with `beginOperation()`.
    func endOperation() {
        self.inner.withLockedValue { inner in
            inner.operationsRunning -= 1
            inner.lastActivity = .now
        }
    }

    /// Releases the lease for good. Idempotent.
    func close() {
        let timer: Task<Void, Never>? = self.inner.withLockedValue { inner in
            if case .held(let lockFile) = inner.state {
                lockFile.release()
            }
            inner.state = .closed
            defer { inner.timer = nil }
            return inner.timer
        }
        timer?.cancel()
    }

    // MARK: The silence timer

    private func startTimer() {
        let first = self.inner.withLockedValue { $0.lastActivity } + self.takeoverAfter
        let timer = Task { [weak self] in
            var deadline = first
            while true {
                do {
                    try await Task.sleep(until: deadline, clock: .continuous)
                } catch {
                    return
                }
                guard let next = self?.timerFired() else { return }
                deadline = next
            }
        }
        let stale: Task<Void, Never>? = self.inner.withLockedValue { inner in
            guard case .held = inner.state else { return timer }
            defer { inner.timer = timer }
            return inner.timer
        }
        stale?.cancel()
    }

    /// Releases the flock if the session has been silent long enough; returns when to look
    /// again, or `nil` to stop the timer.
    private func timerFired() -> ContinuousClock.Instant? {
        self.inner.withLockedValue { inner in
            guard case .held(let lockFile) = inner.state else { return nil }
            let now = ContinuousClock.now
            if inner.operationsRunning > 0 {
                return now + self.takeoverAfter
            }
            let due = inner.lastActivity + self.takeoverAfter
            guard now >= due else { return due }
            lockFile.release()
            inner.state = .released
            inner.timer = nil
            return nil
        }
    }
}
