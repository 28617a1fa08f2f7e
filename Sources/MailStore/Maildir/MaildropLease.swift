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
/// 3. A timer (`LeaseWatchdog`, one for all leases of the process) releases the flock once the
///    session has been silent for `takeoverAfter`, but keeps the snapshot. The session is not over: nobody may want the
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
///
/// The lock file's descriptor counts against the process's `DescriptorBudget`. When the budget
/// has no room for one more, the locks of the longest-silent sessions are released before their
/// `takeoverAfter` (``makeRoom(in:)``), as step 3 would release them; when it still has none,
/// the login (or the released session's next command) fails with a temporary error.
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
        var onLost: (@Sendable () -> Void)?
    }

    /// What the silence timer does next.
    fileprivate enum TimerStep {
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
    /// The budget the lock file's descriptor is counted against.
    let budget: DescriptorBudget
    /// The generation line this session wrote when it took the lock.
    let generation: [UInt8]
    private let inner: NIOLockedValueBox<Inner>

    /// What a login or a command is told when no descriptor is left for the lock file.
    static let noDescriptorMessage = "no file descriptor left for the maildrop lock; try again later"

    /// Takes the lease, or throws `.inUse` (`.io` when the descriptor budget is spent).
    /// Blocking: call it off the event loop.
    static func acquire(lockPath: FilePath, takeoverAfter: Duration, budget: DescriptorBudget) throws -> MaildropLease {
        let lockFile = try Self.acquireLockFile(path: lockPath, budget: budget)
        let generation: [UInt8]
        do {
            generation = try lockFile.writeNextGeneration()
        } catch {
            lockFile.release()
            throw error
        }
        return MaildropLease(lockFile: lockFile, generation: generation, takeoverAfter: takeoverAfter)
    }

    /// Takes the lock file, making room when the budget is spent; throws `.inUse`, or `.io`
    /// when no room can be made.
    private static func acquireLockFile(path: FilePath, budget: DescriptorBudget) throws -> MaildropLockFile {
        var attempts = 0
        while true {
            switch try MaildropLockFile.acquire(path: path, budget: budget) {
            case .acquired(let file):
                return file
            case .inUse:
                throw MailStoreError.inUse
            case .noDescriptor:
                attempts += 1
                guard attempts <= Self.roomAttempts, Self.makeRoom(in: budget) else {
                    throw MailStoreError.io(Self.noDescriptorMessage)
                }
            }
        }
    }

    /// How many times a login, a command or a read makes room and tries again for a descriptor
    /// before it fails: others making room at the same moment may take what it freed.
    static let roomAttempts = 8

    /// When `budget` has no room for another held file, releases the locks of the sessions
    /// silent longest (a few at a time, so a full budget is not searched at every login).
    /// Returns whether there may be room now: false when nothing could be released. Blocking.
    /// Called with no lease's lock held: it takes theirs.
    @discardableResult
    static func makeRoom(in budget: DescriptorBudget) -> Bool {
        let shortfall = budget.shortfall
        guard shortfall > 0 else { return true }
        // What is missing (more than one when a connection took the process past the budget
        // and its own release has not run yet), and a few more.
        let wanted = shortfall + budget.counts.files / 128
        return LeaseWatchdog.shared.releaseLongestSilent(count: wanted, budget: budget) > 0
    }

    /// Counts one held file (a message being sent) against `budget`, making room as a login
    /// does; false when none can be made. Blocking.
    static func takeDescriptor(in budget: DescriptorBudget) -> Bool {
        var attempts = 0
        while !budget.takeFile() {
            attempts += 1
            guard attempts <= Self.roomAttempts, Self.makeRoom(in: budget) else { return false }
        }
        return true
    }

    private init(lockFile: MaildropLockFile, generation: [UInt8], takeoverAfter: Duration) {
        self.lockPath = lockFile.path
        self.generation = generation
        self.takeoverAfter = takeoverAfter
        self.budget = lockFile.budget
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
        var attempts = 0
        while true {
            do {
                return try self.reacquireOnce()
            } catch MailStoreError.io(let message) where message == Self.noDescriptorMessage {
                // Made outside this lease's lock: making room takes other leases' locks.
                attempts += 1
                guard attempts <= Self.roomAttempts, Self.makeRoom(in: self.budget) else {
                    throw MailStoreError.io(Self.noDescriptorMessage)
                }
            }
        }
    }

    private func reacquireOnce() throws {
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
                let lockFile: MaildropLockFile
                switch try MaildropLockFile.acquire(path: self.lockPath, budget: self.budget) {
                case .acquired(let file):
                    lockFile = file
                case .inUse:
                    inner.state = .lost
                    throw MailStoreError.takenOver
                case .noDescriptor:
                    // Still released, and still this session's: the next command tries again.
                    throw MailStoreError.io(Self.noDescriptorMessage)
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
        self.inner.withLockedValue { inner in
            if case .held(let lockFile) = inner.state {
                lockFile.release()
            }
            inner.state = .closed
            inner.onLost = nil
        }
        LeaseWatchdog.shared.unwatch(self)
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
        LeaseWatchdog.shared.watch(self, firstLookAt: first)
    }

    /// Releases the flock if the session has been silent long enough; says what to do next.
    fileprivate func timerFired(now: ContinuousClock.Instant) -> TimerStep {
        self.inner.withLockedValue { inner in
            switch inner.state {
            case .held(let lockFile):
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

    /// When a held lease with no read or commit running was last active; nil otherwise.
    fileprivate var silentSince: ContinuousClock.Instant? {
        self.inner.withLockedValue { inner in
            guard case .held = inner.state, inner.operationsRunning == 0 else { return nil }
            return inner.lastActivity
        }
    }

    /// Releases the flock early, for want of descriptors, if the lease is still held and idle.
    /// From then on it is a released lease (steps 4 and 5). Returns whether it released.
    fileprivate func releaseToMakeRoom() -> Bool {
        self.inner.withLockedValue { inner in
            guard case .held(let lockFile) = inner.state, inner.operationsRunning == 0 else { return false }
            lockFile.release()
            inner.state = .released
            return true
        }
    }

    /// Whether another session has written its generation since this one took the lock.
    /// A lock file that cannot be read says nothing: `reacquire()` decides when the session
    /// next speaks. Blocking.
    fileprivate func generationChanged() -> Bool {
        guard let current = try? MaildropLockFile.readGeneration(path: self.lockPath) else { return false }
        return current != self.generation
    }

    /// A released lease found taken over: from now on it is lost; tells the session.
    fileprivate func markLost() {
        let handler: (@Sendable () -> Void)? = self.inner.withLockedValue { inner in
            guard case .released = inner.state else { return nil }
            inner.state = .lost
            defer { inner.onLost = nil }
            return inner.onLost
        }
        handler?()
    }
}

/// The silence timer of every lease in the process: one task, asleep until the earliest moment
/// a watched lease may be due, rather than a task per session (issue 7: that task's start and
/// cancellation were two wake-ups of Swift's pool at every login and logout).
///
/// A watched lease is looked at when it may be due; activity does not reach the watchdog (it
/// only moves the lease's own deadline, which the next look finds). Released leases are looked
/// at every `MaildropLease.checkInterval(takeoverAfter:)`, their lock files read in one trip to
/// the blocking pool. Looks are at least `minimumInterval` apart, so many leases due at different
/// moments cost a bounded number of passes; a lease is released at most that much late.
final class LeaseWatchdog: Sendable {
    static let shared = LeaseWatchdog()

    /// The least time between two looks.
    static let minimumInterval: Duration = .milliseconds(100)

    private struct Watched: Sendable {
        weak var lease: MaildropLease?
        /// Which `watch` call put it here: a lease watched anew during a pass stays watched.
        var number: Int
    }

    private struct State: Sendable {
        var watched: [ObjectIdentifier: Watched] = [:]
        var watches = 0
        /// The running task's number, and when it looks next (`nil`: no task runs).
        var task = 0
        var wake: ContinuousClock.Instant?
    }

    private let state = NIOLockedValueBox(State())

    /// Watches `lease`, looking at it first at `firstLook` (or sooner).
    func watch(_ lease: MaildropLease, firstLookAt firstLook: ContinuousClock.Instant) {
        let start: (task: Int, wake: ContinuousClock.Instant)? = self.state.withLockedValue { state in
            state.watches += 1
            state.watched[ObjectIdentifier(lease)] = Watched(lease: lease, number: state.watches)
            if let wake = state.wake, wake <= firstLook {
                return nil
            }
            // No task, or one asleep for too long: a new one; the old one ends when it wakes.
            state.task += 1
            state.wake = firstLook
            return (state.task, firstLook)
        }
        if let start {
            Task { await self.run(task: start.task, firstWake: start.wake) }
        }
    }

    /// Releases the locks of up to `count` held, idle leases on `budget`, those silent longest
    /// first, and looks at them again as released leases; returns how many it released.
    /// Blocking (it closes lock files).
    @discardableResult
    func releaseLongestSilent(count: Int, budget: DescriptorBudget) -> Int {
        // Strong references made under the lock but dropped after it (see `run`).
        let leases: [MaildropLease] = self.state.withLockedValue { state in
            state.watched.values.compactMap { $0.lease }.filter { $0.budget === budget }
        }
        var candidates: [(since: ContinuousClock.Instant, lease: MaildropLease)] = []
        candidates.reserveCapacity(leases.count)
        for lease in leases {
            if let since = lease.silentSince { candidates.append((since, lease)) }
        }
        candidates.sort { $0.since < $1.since }
        let now = ContinuousClock.now
        var released = 0
        // Past the first `count`: another thread making room may have released some of them.
        for candidate in candidates where released < count && candidate.lease.releaseToMakeRoom() {
            released += 1
            let lease = candidate.lease
            self.watch(lease, firstLookAt: now + MaildropLease.checkInterval(takeoverAfter: lease.takeoverAfter))
        }
        return released
    }

    /// Makes `budget` release what is over it soon, off the caller's thread (a connection took
    /// the process over its budget: `DescriptorBudget.onOverdraft`). Counted again when it runs:
    /// a login may have made room meanwhile.
    func releaseSoon(budget: DescriptorBudget) {
        Task {
            try? await BlockingIO.run {
                let over = budget.overdraft
                if over > 0 { self.releaseLongestSilent(count: over, budget: budget) }
            }
        }
    }

    /// Stops watching `lease` (closed).
    func unwatch(_ lease: MaildropLease) {
        _ = self.state.withLockedValue { $0.watched.removeValue(forKey: ObjectIdentifier(lease)) }
    }

    private func run(task: Int, firstWake: ContinuousClock.Instant) async {
        var wake = firstWake
        while true {
            do {
                try await Task.sleep(until: wake, clock: .continuous)
            } catch {
                return
            }
            let watched: [ObjectIdentifier: Watched]? = self.state.withLockedValue { state in
                state.task == task ? state.watched : nil
            }
            guard let watched else { return }  // a newer task took over
            let now = ContinuousClock.now
            var next: ContinuousClock.Instant?
            var done: [ObjectIdentifier] = []
            var released: [(ObjectIdentifier, MaildropLease)] = []
            for (key, entry) in watched {
                guard let lease = entry.lease else {
                    done.append(key)
                    continue
                }
                switch lease.timerFired(now: now) {
                case .wait(let until):
                    next = min(next ?? until, until)
                case .checkGeneration:
                    released.append((key, lease))
                case .stop:
                    done.append(key)
                }
            }
            if !released.isEmpty {
                let leases = released.map(\.1)
                let changed = (try? await BlockingIO.run { leases.map { $0.generationChanged() } }) ?? []
                for (index, (key, lease)) in released.enumerated() {
                    if index < changed.count, changed[index] {
                        lease.markLost()
                        done.append(key)
                    } else {
                        let again = now + MaildropLease.checkInterval(takeoverAfter: lease.takeoverAfter)
                        next = min(next ?? again, again)
                    }
                }
            }
            // No lease is touched under the lock: the last reference to one could be dropped
            // there, and its deinit (which unwatches) would take the lock again.
            released = []
            let proceed: Bool = self.state.withLockedValue { state in
                for key in done where state.watched[key]?.number == watched[key]?.number {
                    // Not watched anew meanwhile (taken back after a release).
                    state.watched[key] = nil
                }
                guard state.task == task else { return false }
                // Leases watched since the pass began were not looked at: soon, then.
                let added = state.watched.keys.contains { watched[$0] == nil }
                if let next, !added {
                    wake = max(next, now + Self.minimumInterval)
                } else if !state.watched.isEmpty {
                    wake = now + Self.minimumInterval
                } else {
                    state.wake = nil
                    return false
                }
                state.wake = wake
                return true
            }
            guard proceed else { return }
        }
    }
}
