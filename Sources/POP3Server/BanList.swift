// POP3Server: bans per client address and per user name after repeated failed logins.
import NIOConcurrencyHelpers

/// What is banned: a client (``PeerAddress/clientKey``: an IPv4 address or an IPv6 /64) or a
/// user name.
public enum BanKey: Hashable, Sendable, CustomStringConvertible {
    case address(String)
    case user(String)

    /// `address 192.0.2.7` or `user alice`, as the ban file and `postoffice ban list` show it.
    public var description: String {
        switch self {
        case .address(let key): "address \(key)"
        case .user(let name): "user \(name)"
        }
    }
}

/// When failed logins lead to a ban, and for how long.
public struct BanPolicy: Hashable, Sendable {
    /// Failed logins within ``window`` that ban the address, or the user name, they came for.
    public var failures: Int
    /// Seconds over which failures are counted.
    public var window: Int
    /// Seconds a ban lasts.
    public var banTime: Int

    public init(failures: Int = 10, window: Int = 600, banTime: Int = 900) {
        self.failures = max(1, failures)
        self.window = max(1, window)
        self.banTime = max(1, banTime)
    }
}

/// The bans in force and the failures that lead to them, in memory; ``BanFile`` persists the
/// bans so that `postoffice ban list|remove` sees them and a restart keeps them.
///
/// Time is an input (Unix seconds), so the policy is tested without waiting. Memory is bounded:
/// at most ``maximumTrackedKeys`` keys with failures (the quietest is forgotten first) and at
/// most ``maximumBans`` bans (the one ending first is dropped).
public final class BanList: Sendable {
    /// Keys (addresses and user names) whose recent failures are remembered.
    public static let maximumTrackedKeys = 10_000
    /// Bans kept at once.
    public static let maximumBans = 10_000

    private struct State {
        /// Ban end, Unix seconds.
        var bans: [BanKey: Int64] = [:]
        /// Times of recent failures, at most `policy.failures` each.
        var failures: [BanKey: [Int64]] = [:]
        /// Bans added here and not yet written to the ban file.
        var pending: [BanKey: Int64] = [:]
    }

    // NIOLockedValueBox: the thread sanitizer sees pthread locks (RULES: no Synchronization.Mutex).
    private let state = NIOLockedValueBox(State())
    private let currentPolicy: NIOLockedValueBox<BanPolicy>

    public init(policy: BanPolicy) {
        self.currentPolicy = NIOLockedValueBox(policy)
    }

    /// When failures lead to a ban; a reload may change it (bans in force keep their end).
    public var policy: BanPolicy {
        get { self.currentPolicy.withLockedValue { $0 } }
        set { self.currentPolicy.withLockedValue { $0 = newValue } }
    }

    /// Whether `key` is banned at `now`.
    public func isBanned(_ key: BanKey, now: Int64) -> Bool {
        self.state.withLockedValue { state in
            guard let until = state.bans[key] else { return false }
            return until > now
        }
    }

    /// Records one failed login that concerns each of `keys`; returns those it bans now.
    public func recordFailure(_ keys: [BanKey], now: Int64) -> [BanKey] {
        let policy = self.policy
        return self.state.withLockedValue { state in
            var banned: [BanKey] = []
            for key in keys {
                if let until = state.bans[key], until > now { continue }
                var times = (state.failures[key] ?? []).filter { now - $0 < Int64(policy.window) }
                times.append(now)
                if times.count >= policy.failures {
                    state.failures[key] = nil
                    let until = now + Int64(policy.banTime)
                    state.bans[key] = until
                    state.pending[key] = until
                    banned.append(key)
                    continue
                }
                if state.failures[key] == nil, state.failures.count >= Self.maximumTrackedKeys {
                    let quietest = state.failures.min { ($0.value.last ?? 0) < ($1.value.last ?? 0) }
                    if let quietest { state.failures[quietest.key] = nil }
                }
                state.failures[key] = times
            }
            if state.bans.count > Self.maximumBans {
                state.bans = Self.trimmed(state.bans, now: now)
            }
            return banned
        }
    }

    /// A successful login clears the failures counted against `key`.
    public func recordSuccess(_ key: BanKey) {
        self.state.withLockedValue { _ = $0.failures.removeValue(forKey: key) }
    }

    /// The bans in force at `now`.
    public func bans(now: Int64) -> [BanKey: Int64] {
        self.state.withLockedValue { state in state.bans.filter { $0.value > now } }
    }

    /// Takes the bans not yet written to the ban file.
    func takePending() -> [BanKey: Int64] {
        self.state.withLockedValue { state in
            defer { state.pending = [:] }
            return state.pending
        }
    }

    /// Puts back bans whose write failed, unless newer ones replaced them.
    func restorePending(_ pending: [BanKey: Int64]) {
        self.state.withLockedValue { state in state.pending.merge(pending) { newer, _ in newer } }
    }

    /// Replaces the bans with those of the ban file (an operator may have removed some),
    /// keeping the bans not yet written.
    func replace(with persisted: [BanKey: Int64]) {
        self.state.withLockedValue { state in
            state.bans = persisted.merging(state.pending) { max($0, $1) }
        }
    }

    /// The unexpired bans, at most ``maximumBans``, keeping those that last longest.
    static func trimmed(_ bans: [BanKey: Int64], now: Int64) -> [BanKey: Int64] {
        let live = bans.filter { $0.value > now }
        guard live.count > Self.maximumBans else { return live }
        return Dictionary(
            uniqueKeysWithValues: live.sorted { $0.value > $1.value }.prefix(Self.maximumBans).map {
                ($0.key, $0.value)
            }
        )
    }
}
