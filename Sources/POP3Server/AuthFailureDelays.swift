// POP3Server: growing delays for failed logins, per client address.
import NIOConcurrencyHelpers

/// Remembers failed logins per client address and says how long to wait before answering
/// the next failure: `base`, then ×3 per further failure, up to `cap`. An address that has
/// been quiet for `forgetAfter` starts again from `base`. Memory is bounded by `capacity`.
/// Failures are remembered with a `base` of 0 too (no delay): ``hasRecentFailures(address:now:)``
/// tells the password checks of suspect clients apart (``SuspectCheckGate``).
final class AuthFailureDelays: Sendable {
    private struct Entry {
        var failures: Int
        var last: ContinuousClock.Instant
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    let base: Double
    let cap: Double
    let forgetAfter: Duration
    let capacity: Int

    init(base: Double, cap: Double, forgetAfter: Duration = .seconds(900), capacity: Int = 10_000) {
        self.base = max(0, base)
        self.cap = max(self.base, cap)
        self.forgetAfter = forgetAfter
        self.capacity = capacity
    }

    /// Records a failure from `address`; returns the delay to wait before answering.
    func recordFailure(address: String, now: ContinuousClock.Instant = .now) -> Duration {
        let failures = entries.withLockedValue { entries in
            var entry = entries[address] ?? Entry(failures: 0, last: now)
            if now - entry.last > forgetAfter { entry.failures = 0 }
            entry.failures += 1
            entry.last = now
            if entries[address] == nil, entries.count >= capacity {
                // Forget the quietest address; a scan is fine at this size and rate.
                if let oldest = entries.min(by: { $0.value.last < $1.value.last })?.key {
                    entries[oldest] = nil
                }
            }
            entries[address] = entry
            return entry.failures
        }
        guard base > 0 else { return .zero }
        return Self.delay(failures: failures, base: base, cap: cap)
    }

    /// Whether `address` failed a login within the last `forgetAfter` and has not logged in
    /// since.
    func hasRecentFailures(address: String, now: ContinuousClock.Instant = .now) -> Bool {
        entries.withLockedValue { entries in
            guard let entry = entries[address] else { return false }
            return now - entry.last <= forgetAfter
        }
    }

    /// A successful login from `address` clears its record.
    func recordSuccess(address: String) {
        entries.withLockedValue { _ = $0.removeValue(forKey: address) }
    }

    /// base × 3^(failures−1), capped.
    static func delay(failures: Int, base: Double, cap: Double) -> Duration {
        var seconds = base
        for _ in 1..<max(1, min(failures, 64)) {
            seconds *= 3
            if seconds >= cap { break }
        }
        return .milliseconds(Int64(min(seconds, cap) * 1000))
    }
}
