// POP3Server: LOGIN-DELAY (RFC 2449 §6.5) and EXPIRE (RFC 2449 §6.7) as the site sets them and
// as each account's passwd-file extra fields override them.
public import Accounts
import POP3Core

/// One account's login delay and retention period: its own settings over the site's.
public struct AccountPolicy: Hashable, Sendable {
    /// Seconds that must pass after a successful login before the next is accepted; 0: none.
    public var loginDelaySeconds: Int
    /// How long messages stay; `nil` when neither the site nor the account sets it (kept).
    public var expiry: Expiry?

    public init(siteLoginDelay: Int?, siteExpiry: Expiry?, account: AccountSettings) {
        self.loginDelaySeconds = account.loginDelaySeconds ?? siteLoginDelay ?? 0
        self.expiry = account.expiry ?? siteExpiry
    }

    /// The retention cutoff in seconds since 1970: messages that arrived at or before it are
    /// past the period at `now`. `nil` when messages are kept, or for `EXPIRE 0` (which deletes by
    /// retrieval, not by age).
    public func expiryCutoff(now: Int) -> Int? {
        guard case .days(let days) = self.expiry, days > 0 else { return nil }
        return now - days * Self.secondsPerDay
    }

    /// Whether every message this session retrieves is removed at its end (`EXPIRE 0`).
    public var expiresOnEveryRetrieval: Bool { self.expiry == .days(0) }

    static let secondsPerDay = 24 * 60 * 60

    /// What CAPA says of this account once it is logged in (RFC 2449 §6.5, §6.7: "the more
    /// accurate value ... in TRANSACTION state"): only what `before` advertised before login,
    /// with no setting reading as 0 seconds or NEVER.
    func capabilities(advertisedBefore before: ServerSession.Configuration) -> ServerSession.AccountCapabilities {
        ServerSession.AccountCapabilities(
            loginDelaySeconds: before.loginDelaySeconds == nil ? nil : self.loginDelaySeconds,
            expireDays: before.expireDays == nil ? nil : .some((self.expiry ?? .never).capabilityDays)
        )
    }
}

/// LOGIN-DELAY and EXPIRE in CAPA before login, for any user (RFC 2449 §6.5: "the largest value
/// which could be set for any user"; §6.7: "the smallest"), with `USER` when accounts differ.
/// Nothing is advertised for a setting that neither the site nor any account sets.
struct AdvertisedPolicy: Hashable, Sendable {
    var loginDelaySeconds: Int?
    var loginDelayPerUser = false
    /// `.some(nil)` is NEVER.
    var expireDays: Int??
    var expirePerUser = false

    init(siteLoginDelay: Int?, siteExpiry: Expiry?, inUse: AccountSettingsInUse) {
        if siteLoginDelay != nil || !inUse.loginDelays.isEmpty {
            // Accounts without a setting of their own have the site's, or none (0).
            let values = inUse.loginDelays.union([siteLoginDelay ?? 0])
            self.loginDelaySeconds = values.max()
            self.loginDelayPerUser = values.count > 1
        }
        if siteExpiry != nil || !inUse.expiries.isEmpty {
            let values = inUse.expiries.union([siteExpiry ?? .never])
            // safe: `values` holds at least the site's value.
            let shortest = values.min { $0.isShorter(than: $1) }!
            self.expireDays = .some(shortest.capabilityDays)
            self.expirePerUser = values.count > 1
        }
    }
}

extension Expiry {
    /// As ``ServerSession/Configuration/expireDays`` spells it: `nil` is NEVER.
    var capabilityDays: Int? {
        switch self {
        case .never: return nil
        case .days(let days): return days
        }
    }
}
