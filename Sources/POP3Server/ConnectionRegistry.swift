// POP3Server: the open connections, for the connection limits, the shutdown drain and the admin socket.
import FileIO
import NIOConcurrencyHelpers
import NIOCore

/// One open POP3 session as `postoffice who` lists it.
public struct SessionSummary: Hashable, Sendable {
    /// The account, once logged in.
    public var user: String?
    public var peer: PeerAddress
    /// Whether the connection came in on an implicit-TLS listener.
    public var implicitTLS: Bool
    /// How long the connection has been open.
    public var connectedFor: Duration
}

/// The open connections: counted against the limit (all of them, and per client) and against
/// the process's descriptor budget, closed at the shutdown deadline, and waited for until each
/// has released its maildrop.
final class ConnectionRegistry: Sendable {
    private struct Entry {
        var channel: any Channel
        var peer: PeerAddress
        var implicitTLS: Bool
        var since: ContinuousClock.Instant
        var user: String?
    }

    private struct State {
        var next = 0
        var channels: [Int: Entry] = [:]
        /// The client (``PeerAddress/clientKey``) each counted connection belongs to.
        var clientOf: [Int: String] = [:]
        /// Connections open per client.
        var perClient: [String: Int] = [:]
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        /// Waiters that gave up before they parked.
        var expired: Set<Int> = []

        /// Stops counting connection `id` against its client.
        mutating func release(_ id: Int) {
            guard let client = self.clientOf.removeValue(forKey: id) else { return }
            let remaining = (self.perClient[client] ?? 1) - 1
            self.perClient[client] = remaining > 0 ? remaining : nil
        }

        mutating func reserveWaiter() -> Int {
            self.nextWaiter += 1
            return self.nextWaiter
        }
    }

    // NIOLockedValueBox (a pthread mutex) rather than Synchronization.Mutex: the thread
    // sanitizer sees pthread locks, and reports false races inside Mutex on Linux.
    private let state = NIOLockedValueBox(State())
    /// What each connection's socket counts against.
    private let budget: DescriptorBudget

    init(budget: DescriptorBudget = .shared) {
        self.budget = budget
    }

    /// Registers `channel`; returns its id and the number of connections open with it.
    func add(_ channel: any Channel, implicitTLS: Bool = false) -> (id: Int, open: Int) {
        let entry = Entry(
            channel: channel,
            peer: PeerAddress(channel.remoteAddress),
            implicitTLS: implicitTLS,
            since: .now
        )
        let added = self.state.withLockedValue { state in
            state.next += 1
            state.channels[state.next] = entry
            return (state.next, state.channels.count)
        }
        self.budget.connectionOpened()
        return added
    }

    /// Connection `id` logged in as `user`.
    func loggedIn(_ id: Int, user: String) {
        self.state.withLockedValue { $0.channels[id]?.user = user }
    }

    /// The open sessions, oldest first.
    func sessions(now: ContinuousClock.Instant = .now) -> [SessionSummary] {
        let entries = self.state.withLockedValue { state in state.channels.sorted { $0.key < $1.key }.map(\.value) }
        return entries.map {
            SessionSummary(user: $0.user, peer: $0.peer, implicitTLS: $0.implicitTLS, connectedFor: now - $0.since)
        }
    }

    /// Closes every session logged in as `user` (without UPDATE: nothing is deleted); returns
    /// how many there were.
    func close(user: String) -> Int {
        let channels = self.state.withLockedValue { state in
            state.channels.values.filter { $0.user == user }.map(\.channel)
        }
        for channel in channels { channel.close(promise: nil) }
        return channels.count
    }

    /// Connection `id` serves `peer` (the client a PROXY header named, in place of the proxy).
    func identify(_ id: Int, peer: PeerAddress) {
        self.state.withLockedValue { $0.channels[id]?.peer = peer }
    }

    /// Counts connection `id` against `client`; returns how many that client has open with it.
    func claim(_ id: Int, client: String) -> Int {
        self.state.withLockedValue { state in
            guard state.channels[id] != nil else { return 0 }
            if let previous = state.clientOf[id] {
                guard previous != client else { return state.perClient[client] ?? 0 }
                state.release(id)
            }
            state.clientOf[id] = client
            state.perClient[client, default: 0] += 1
            return state.perClient[client] ?? 0
        }
    }

    /// Connections open from `client` now.
    func count(client: String) -> Int {
        self.state.withLockedValue { $0.perClient[client] ?? 0 }
    }

    /// Forgets connection `id` (idempotent); wakes those waiting when none is left.
    func remove(_ id: Int) {
        let (removed, waiters): (Bool, [CheckedContinuation<Bool, Never>]) = self.state.withLockedValue { state in
            state.release(id)
            let removed = state.channels.removeValue(forKey: id) != nil
            guard state.channels.isEmpty else { return (removed, []) }
            defer {
                state.waiters = [:]
                state.expired = []
            }
            return (removed, Array(state.waiters.values))
        }
        if removed { self.budget.connectionClosed() }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    var count: Int { self.state.withLockedValue { $0.channels.count } }

    /// Closes every open connection; returns how many there were.
    func closeAll() -> Int {
        let channels = self.state.withLockedValue { $0.channels.values.map(\.channel) }
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
