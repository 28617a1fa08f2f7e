// Checking a login password the same way for every account database.
import FileIO

/// Password checks for account providers, whatever holds the accounts (a passwd-file, a
/// PostgreSQL table): the same schemes, on the same hashing threads, never on the caller's
/// thread (which may be an event loop).
///
/// An unknown user, and an account without a password, cost a yescrypt computation like a real
/// check, so the time a failed login takes says little about which accounts exist.
public enum PasswordCheck {
    /// Checks `password` against `stored`, the account's stored password, or `nil` when there is
    /// no such account (then the answer is ``PasswordVerification/mismatch``).
    public static func verify(_ password: [UInt8], against stored: StoredPassword?) async -> PasswordVerification {
        await HashingPool.shared.run { verifyNow(password, against: stored) }
    }

    /// ``verify(_:against:)`` on the caller's thread. Slow by design: never on an event loop.
    static func verifyNow(_ password: [UInt8], against stored: StoredPassword?) -> PasswordVerification {
        guard let stored else {
            spendDummyWork(password)
            return .mismatch
        }
        let result = stored.verify(password)
        if result == .mismatch, stored.data.isEmpty {
            spendDummyWork(password)
        }
        return result
    }

    /// A yescrypt computation with the default cost, for users that do not exist.
    static func spendDummyWork(_ password: [UInt8]) {
        _ = SystemCrypt.verify(password: password, storedHash: dummyHash)
    }

    /// A yescrypt hash of a random password nobody knows.
    private static let dummyHash = "$y$j9T$Vtb10/9dKF4gsG.E2qLoi.$L/N76//.h4ddFrJxMQ6523Arwmjnv38DTuu7n8in/x8"
}
