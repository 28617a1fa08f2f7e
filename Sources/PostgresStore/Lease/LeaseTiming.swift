// How long a maildrop lease lasts in the database, and how often a session renews it.

/// The timing of a maildrop lease held as a row (see ``PostgresMaildrop``).
///
/// On one host a session's activity is noted in memory for free, and the lease is given up
/// after `takeoverAfter` of silence. Across nodes the activity must reach the database, and a
/// write per POP3 command would make the database the bottleneck. So a session stamps its row
/// at most once per ``stampInterval`` (a quarter of the takeover time), and the row's expiry is
/// set to `takeoverAfter + stampInterval` after the stamp: activity that was not stamped is at
/// most ``stampInterval`` old, so a session that spoke within `takeoverAfter` is never taken
/// over, and a silent one is taken over at most ``stampInterval`` later than on one host.
/// Expiry is computed by the database's clock alone: the nodes' clocks may disagree.
public struct LeaseTiming: Sendable, Hashable {
    /// Silence after which a new login may take the maildrop over.
    public let takeoverAfter: Duration
    /// The least time between two stamps of one session.
    public var stampInterval: Duration { takeoverAfter / 4 }
    /// How far past a stamp the lease runs.
    public var expiry: Duration { takeoverAfter + stampInterval }

    public init(takeoverAfter: Duration) {
        precondition(takeoverAfter > .zero, "takeoverAfter must be positive")
        self.takeoverAfter = takeoverAfter
    }

    /// ``expiry`` in microseconds, as the SQL statements take it.
    var expiryMicroseconds: Int64 {
        let (seconds, attoseconds) = expiry.components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
