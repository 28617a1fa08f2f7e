// FileIO: the descriptors a server keeps open for long, counted against the process's limit.

import NIOConcurrencyHelpers

/// The descriptors a server holds for a long time, counted against one budget: each
/// connection's socket, and files held open across waits for the network (a logged-in
/// session's maildrop lock file, a message file while the socket drains it).
///
/// The budget is the process's descriptor limit less a reserve for what is open only briefly
/// or in small numbers (listeners, event loops, files opened and closed within one trip to the
/// blocking pool, the passwd-file). A process out of descriptors fails where it cannot recover
/// (see the server's `ConnectionLimit`), so nothing long-lived is opened past the budget:
///
/// - connections are refused by the server's connection limit, which leaves a share of the
///   budget to held files; a connection that arrives while held files fill the rest is still
///   admitted, and the ``onOverdraft(_:)`` handler (the maildrop store's) releases lock files
///   of silent sessions, as many as are still over when it runs;
/// - a held file is opened only within the budget (``takeFile()``); the maildrop store makes
///   room first by releasing the locks of the longest-silent sessions, whose leases then work as
///   after a silence of `takeover_after`, and otherwise fails the login or the RETR with a
///   temporary error.
///
/// So a session costs one descriptor for as long as it is silent and the descriptors are
/// wanted, and two or three while it is active.
public final class DescriptorBudget: Sendable {
    /// The process's budget: a server sets its limit when it starts.
    public static let shared = DescriptorBudget(limit: nil)

    private struct State {
        var limit: Int?
        var connections = 0
        /// Files held open for long: lock files and message files being sent.
        var files = 0
        var onOverdraft: (@Sendable (Int) -> Void)?

        var overdraft: Int {
            guard let limit = self.limit else { return 0 }
            return max(0, self.connections + self.files - limit)
        }
    }

    private let state: NIOLockedValueBox<State>

    /// A budget of `limit` descriptors; `nil`: unlimited (nothing is counted against a limit).
    public init(limit: Int?) {
        self.state = NIOLockedValueBox(State(limit: limit))
    }

    /// The descriptors that connections and held files may use together; `nil`: unlimited.
    public var limit: Int? {
        get { self.state.withLockedValue { $0.limit } }
        set { self.state.withLockedValue { $0.limit = newValue } }
    }

    /// Connections and files counted now.
    public var counts: (connections: Int, files: Int) {
        self.state.withLockedValue { ($0.connections, $0.files) }
    }

    /// Whether one more file fits.
    public var hasRoomForFile: Bool {
        self.shortfall == 0
    }

    /// How many descriptors must be given back before one more file fits: 0 when it fits now,
    /// more than 1 when connections took the process past the budget.
    public var shortfall: Int {
        self.state.withLockedValue { state in
            guard let limit = state.limit else { return 0 }
            return max(0, state.connections + state.files + 1 - limit)
        }
    }

    /// Descriptors counted past the budget now (a connection admitted while held files filled
    /// the rest).
    public var overdraft: Int {
        self.state.withLockedValue { $0.overdraft }
    }

    /// Calls `handler` with the number of descriptors over the budget when a connection takes
    /// the process past it; the handler releases as many as ``overdraft`` still says when it
    /// runs (it must not block its caller, an event loop). Replaces an earlier handler.
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

    /// Counts a file about to be opened and held; `false` (nothing counted) when the budget is
    /// spent.
    public func takeFile() -> Bool {
        self.state.withLockedValue { state in
            if let limit = state.limit, state.connections + state.files >= limit {
                return false
            }
            state.files += 1
            return true
        }
    }

    /// A file counted by ``takeFile()`` was closed (or never opened).
    public func returnFile() {
        self.state.withLockedValue { $0.files -= 1 }
    }
}
