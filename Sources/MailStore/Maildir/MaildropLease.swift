// The lease behind a session's exclusive hold on a Maildir, with takeover of silent sessions.

import FileIO
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
/// 5. A released session keeps looking at the generation in the lock file, every
///    ``checkInterval(takeoverAfter:)``; once another session has written its own, the lease is
///    lost and the handler given to `whenLost` runs, so a silent session that was taken over
///    (in this process or another) is closed within seconds instead of when it next speaks.
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
        var onLost: (@Sendable () -> Void)?
    }

    /// What the silence timer does next.
    private enum TimerStep {
        case wait(until: ContinuousClock.Instant)
        case checkGeneration
        case stop
    }

    /// The longest a released session goes without looking whether it was taken over.
    static let maximumCheckInterval: Duration = .seconds(2)

    /// How often a released session looks at the lock file: a short lease (tests) is looked
    /// at as often as it may be taken over.
    static func checkInterval(takeoverAfter: Duration) -> Duration {
        min(takeoverAfter, Self.maximumCheckInterval)
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
            inner.onLost = nil
            defer { inner.timer = nil }
            return inner.timer
        }
        timer?.cancel()
    }

    /// Calls `handler` once, from the silence timer, when a released lease finds that a newer
    /// session took the maildrop; at once if that is already known. Not called after `close()`,
    /// nor when the loss is found by `reacquire()` (its caller learns it from the throw).
    func whenLost(_ handler: @escaping @Sendable () -> Void) {
        let lostAlready: Bool = self.inner.withLockedValue { inner in
            if case .lost = inner.state { return true }
            inner.onLost = handler
            return false
        }
        if lostAlready { handler() }
    }

    // MARK: The silence timer

    private func startTimer() {
        let first = self.inner.withLockedValue { $0.lastActivity } + self.takeoverAfter
        let checkInterval = Self.checkInterval(takeoverAfter: self.takeoverAfter)
        let timer = Task { [weak self] in
            var deadline = first
            while true {
                do {
                    try await Task.sleep(until: deadline, clock: .continuous)
                } catch {
                    return
                }
                guard let step = self?.timerFired() else { return }
                switch step {
                case .wait(let next):
                    deadline = next
                case .checkGeneration:
                    guard let lease = self else { return }
                    if await lease.generationChanged() {
                        lease.markLost()
                        return
                    }
                    deadline = .now + checkInterval
                case .stop:
                    return
                }
            }
        }
        let stale: Task<Void, Never>? = self.inner.withLockedValue { inner in
            guard case .held = inner.state else { return timer }
            defer { inner.timer = timer }
            return inner.timer
        }
        stale?.cancel()
    }

    /// Releases the flock if the session has been silent long enough; says what to do next.
    private func timerFired() -> TimerStep {
        self.inner.withLockedValue { inner in
            switch inner.state {
            case .held(let lockFile):
                let now = ContinuousClock.now
                if inner.operationsRunning > 0 {
                    return .wait(until: now + self.takeoverAfter)
                }
                let due = inner.lastActivity + self.takeoverAfter
                guard now >= due else { return .wait(until: due) }
                lockFile.release()
                inner.state = .released
                return .wait(until: now + Self.checkInterval(takeoverAfter: self.takeoverAfter))
            case .released:
                return .checkGeneration
            case .lost, .closed:
                return .stop
            }
        }
    }

    /// Whether another session has written its generation since this one took the lock.
    /// A lock file that cannot be read says nothing: `reacquire()` decides when the session
    /// next speaks.
    private func generationChanged() async -> Bool {
        let path = self.lockPath
        let generation = self.generation
        let current = try? await BlockingIO.run { try MaildropLockFile.readGeneration(path: path) }
        guard let current else { return false }
        return current != generation
    }

    /// A released lease found taken over: from now on it is lost; tells the session.
    private func markLost() {
        let handler: (@Sendable () -> Void)? = self.inner.withLockedValue { inner in
            guard case .released = inner.state else { return nil }
            inner.state = .lost
            inner.timer = nil
            defer { inner.onLost = nil }
            return inner.onLost
        }
        handler?()
    }
}
