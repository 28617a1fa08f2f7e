// FileIO: the descriptors a server keeps open for long, counted against the process's limit.

import NIOConcurrencyHelpers

/// The descriptors a server holds for a long time, counted against one budget: each
/// connection's socket and each logged-in session's maildrop lock file.
///
/// The budget is the process's descriptor limit less a reserve for what is open only briefly
/// or in small numbers (listeners, event loops, message files being read, the passwd-file).
/// A process out of descriptors fails where it cannot recover (see the server's
/// `ConnectionLimit`), so nothing long-lived is opened past the budget:
///
/// - connections are refused by the server's connection limit, which leaves a share of the
///   budget to lock files; a connection that arrives while lock files fill the rest is still
///   admitted, and the ``onOverdraft(_:)`` handler (the maildrop store's) releases that many
///   lock files of silent sessions;
/// - a lock file is taken only within the budget (``takeLockFile()``); the maildrop store makes
///   room first by releasing the lock of the longest-silent session, whose lease then works as
///   after a silence of `takeover_after`.
///
/// So a session costs one descriptor for as long as it is silent and the descriptors are
/// wanted, and two otherwise.
public final class DescriptorBudget: Sendable {
    /// The process's budget: a server sets its limit when it starts.
    public static let shared = DescriptorBudget(limit: nil)

    private struct State {
        var limit: Int?
        var connections = 0
        var lockFiles = 0
        var onOverdraft: (@Sendable (Int) -> Void)?

        var overdraft: Int {
            guard let limit = self.limit else { return 0 }
            return max(0, self.connections + self.lockFiles - limit)
        }
    }

    private let state: NIOLockedValueBox<State>

    /// A budget of `limit` descriptors; `nil`: unlimited (nothing is counted against a limit).
    public init(limit: Int?) {
        self.state = NIOLockedValueBox(State(limit: limit))
    }

    /// The descriptors that connections and lock files may use together; `nil`: unlimited.
    public var limit: Int? {
        get { self.state.withLockedValue { $0.limit } }
        set { self.state.withLockedValue { $0.limit = newValue } }
    }

    /// Connections and lock files counted now.
    public var counts: (connections: Int, lockFiles: Int) {
        self.state.withLockedValue { ($0.connections, $0.lockFiles) }
    }

    /// Whether one more lock file fits.
    public var hasRoomForLockFile: Bool {
        self.state.withLockedValue { state in
            guard let limit = state.limit else { return true }
            return state.connections + state.lockFiles < limit
        }
    }

    /// Calls `handler` with the number of descriptors over the budget when a connection takes
    /// the process past it; the handler releases that many (it must not block its caller, an
    /// event loop). Replaces an earlier handler.
    public func onOverdraft(_ handler: @escaping @Sendable (Int) -> Void) {
        self.state.withLockedValue { $0.onOverdraft = handler }
    }

    /// Counts a connection's socket. Never refuses: the connection limit does.
    public func connectionOpened() {
        let (over, handler) = self.state.withLockedValue { state in
            state.connections += 1
            return (state.overdraft, state.onOverdraft)
        }
        if over > 0, let handler { handler(over) }
    }

    /// A connection counted by ``connectionOpened()`` closed.
    public func connectionClosed() {
        self.state.withLockedValue { $0.connections -= 1 }
    }

    /// Counts a lock file about to be opened; `false` (nothing counted) when the budget is spent.
    public func takeLockFile() -> Bool {
        self.state.withLockedValue { state in
            if let limit = state.limit, state.connections + state.lockFiles >= limit {
                return false
            }
            state.lockFiles += 1
            return true
        }
    }

    /// A lock file counted by ``takeLockFile()`` was closed (or never opened).
    public func returnLockFile() {
        self.state.withLockedValue { $0.lockFiles -= 1 }
    }
}
