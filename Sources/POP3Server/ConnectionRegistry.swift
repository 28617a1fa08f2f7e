// POP3Server: the open connections, for the connection limit and the shutdown drain.
import NIOConcurrencyHelpers
import NIOCore

/// The open connections: counted against the limit, closed at the shutdown deadline, and
/// waited for until each has released its maildrop.
final class ConnectionRegistry: Sendable {
    private struct State {
        var next = 0
        var channels: [Int: any Channel] = [:]
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        /// Waiters that gave up before they parked.
        var expired: Set<Int> = []

        mutating func reserveWaiter() -> Int {
            self.nextWaiter += 1
            return self.nextWaiter
        }
    }

    // NIOLockedValueBox (a pthread mutex) rather than Synchronization.Mutex: the thread
    // sanitizer sees pthread locks, and reports false races inside Mutex on Linux.
    private let state = NIOLockedValueBox(State())

    /// Registers `channel`; returns its id and the number of connections open with it.
    func add(_ channel: any Channel) -> (id: Int, open: Int) {
        self.state.withLockedValue { state in
            state.next += 1
            state.channels[state.next] = channel
            return (state.next, state.channels.count)
        }
    }

    /// Forgets connection `id` (idempotent); wakes those waiting when none is left.
    func remove(_ id: Int) {
        let waiters: [CheckedContinuation<Bool, Never>] = self.state.withLockedValue { state in
            state.channels.removeValue(forKey: id)
            guard state.channels.isEmpty else { return [] }
            defer {
                state.waiters = [:]
                state.expired = []
            }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    var count: Int { self.state.withLockedValue { $0.channels.count } }

    /// Closes every open connection; returns how many there were.
    func closeAll() -> Int {
        let channels = self.state.withLockedValue { Array($0.channels.values) }
        for channel in channels { channel.close(promise: nil) }
        return channels.count
    }

    /// Returns once no connection is registered.
    func waitUntilEmpty() async {
        let id = self.state.withLockedValue { $0.reserveWaiter() }
        _ = await withCheckedContinuation { self.register(id, $0) }
    }

    /// Returns true once no connection is registered, or false when `timeout` passed first
    /// or the task was cancelled.
    func waitUntilEmpty(timeout: Duration) async -> Bool {
        let id = self.state.withLockedValue { $0.reserveWaiter() }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.expire(id)
        }
        defer { timer.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { self.register(id, $0) }
        } onCancel: {
            self.expire(id)
        }
    }

    /// Parks waiter `id`, or resumes it at once: true when nothing is open, false when it
    /// has already expired.
    private func register(_ id: Int, _ continuation: CheckedContinuation<Bool, Never>) {
        let outcome: Bool? = self.state.withLockedValue { state in
            if state.channels.isEmpty { return true }
            if state.expired.remove(id) != nil { return false }
            state.waiters[id] = continuation
            return nil
        }
        if let outcome { continuation.resume(returning: outcome) }
    }

    /// Gives up waiting for `id`: resumes it with false, or marks it so it will not park.
    private func expire(_ id: Int) {
        let waiter: CheckedContinuation<Bool, Never>? = self.state.withLockedValue { state in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            state.expired.insert(id)
            return nil
        }
        waiter?.resume(returning: false)
    }
}
