// Telling a node's silent sessions promptly that a login elsewhere took their maildrop over.
import Logging
import NIOConcurrencyHelpers
import PostgresNIO

/// Watches the lease rows of this process's open maildrops for takeovers
/// (`Maildrop.whenTakenOver`), so a silent session that a login on any node took over is
/// closed within seconds rather than when its client next speaks.
///
/// One statement per ``interval`` reads the generations of every watched row, whatever the
/// number of sessions (10,000 idle sessions cost one small query every 2 seconds, not 5,000 a
/// second), and none runs while no session is watched. A row whose generation is not the one
/// its session took was taken over: the session's handler runs once.
final class TakeoverWatch: Sendable {
    /// The longest a silent session goes without being told of a takeover (as on one host).
    static let maximumInterval: Duration = .seconds(2)

    private struct Watched {
        var mailboxID: Int64
        var generation: Int64
        var handler: @Sendable () -> Void
    }

    private struct State {
        var watched: [ObjectIdentifier: Watched] = [:]
        var running = false
    }

    let database: MailDatabase
    let interval: Duration
    private let state = NIOLockedValueBox(State())

    /// A watch over `database`'s lease rows, looking every `min(takeoverAfter, 2 s)`.
    init(database: MailDatabase, takeoverAfter: Duration) {
        self.database = database
        self.interval = min(takeoverAfter, Self.maximumInterval)
    }

    /// Calls `handler` once when the row `mailboxID` no longer has `generation`, until
    /// ``stopWatching(_:)`` for `key`.
    func watch(
        _ key: ObjectIdentifier,
        mailboxID: Int64,
        generation: Int64,
        handler: @escaping @Sendable () -> Void
    ) {
        let start = self.state.withLockedValue { state in
            state.watched[key] = Watched(mailboxID: mailboxID, generation: generation, handler: handler)
            defer { state.running = true }
            return !state.running
        }
        if start {
            Task { await self.run() }
        }
    }

    func stopWatching(_ key: ObjectIdentifier) {
        self.state.withLockedValue { state in
            _ = state.watched.removeValue(forKey: key)
        }
    }

    /// Sessions watched now (for tests).
    var watchedCount: Int { self.state.withLockedValue { $0.watched.count } }

    private func run() async {
        while true {
            try? await Task.sleep(for: self.interval)
            let snapshot: [ObjectIdentifier: Watched]? = self.state.withLockedValue { state in
                guard !state.watched.isEmpty else {
                    state.running = false
                    return nil
                }
                return state.watched
            }
            guard let snapshot else { return }
            let ids = Array(Set(snapshot.values.map(\.mailboxID)))
            var generations: [Int64: Int64] = [:]
            do {
                let rows = try await self.database.rows(
                    "SELECT id, lease_generation FROM mailboxes WHERE id = ANY(\(ids))"
                )
                for row in rows {
                    let (id, generation) = try row.decode((Int64, Int64).self)
                    generations[id] = generation
                }
            } catch {
                // The next round tries again; a session that speaks meanwhile finds out itself.
                self.database.logger.debug("looking for taken-over maildrops failed: \(error)")
                continue
            }
            let handlers: [@Sendable () -> Void] = self.state.withLockedValue { state in
                var taken: [@Sendable () -> Void] = []
                for (key, watched) in snapshot {
                    guard let current = generations[watched.mailboxID], current != watched.generation,
                        state.watched.removeValue(forKey: key) != nil
                    else { continue }
                    taken.append(watched.handler)
                }
                return taken
            }
            for handler in handlers { handler() }
        }
    }
}
