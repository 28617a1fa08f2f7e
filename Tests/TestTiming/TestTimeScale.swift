import Glibc
// Test support: the one factor by which tests stretch their safety-net deadlines. A target of
// its own, free of Foundation, so that every test target can use it (MailStoreTests keeps to libc).
public import NIOCore

/// Stretches a test's safety-net deadlines on a slow build.
///
/// The factor is `POSTOFFICE_TEST_TIME_SCALE` (a whole number from 1 to 100), 1 when it is
/// unset or not such a number. `scripts/test` sets it for the thread-sanitizer run, whose
/// instrumentation makes the tests 5–15× slower. Scale only what keeps a test from hanging
/// (a connection's deadline, a client timeout the test does not exercise, an upper bound that
/// tells "ended by X" from "ended by a much later timeout"); a value that is itself the
/// behaviour under test (a 300 ms timeout that must fire) stays as it is.
public enum TestTimeScale {
    /// The factor, read once.
    public static let factor: Int = {
        guard let raw = getenv("POSTOFFICE_TEST_TIME_SCALE"),
            let value = Int(String(cString: raw)),
            (1...100).contains(value)
        else { return 1 }
        return value
    }()

    /// `duration` times the factor.
    public static func scaled(_ duration: Duration) -> Duration {
        duration * factor
    }

    /// `amount` times the factor.
    public static func scaled(_ amount: TimeAmount) -> TimeAmount {
        .nanoseconds(amount.nanoseconds * Int64(factor))
    }
}

/// Polls `condition` every 20 ms for at most `seconds` (times ``TestTimeScale/factor``);
/// returns whether it became true. A safety net for "the server has seen it by now", not a
/// bound under test.
public func eventually(seconds: Int = 10, _ condition: () async throws -> Bool) async rethrows -> Bool {
    for _ in 0..<(seconds * 50 * TestTimeScale.factor) {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
