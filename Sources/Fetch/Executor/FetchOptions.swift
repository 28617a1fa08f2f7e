// Options of a run that are not part of an account's configuration.
import Foundation
import Synchronization

/// The current time, injectable so tests set "now" (keep-days).
public struct FetchClock: Sendable {
    public let now: @Sendable () -> Int64

    public init(now: @escaping @Sendable () -> Int64) {
        self.now = now
    }

    /// The system clock.
    public static let system = FetchClock { Int64(Date().timeIntervalSince1970) }

    /// A fixed time.
    public static func fixed(_ seconds: Int64) -> FetchClock {
        FetchClock { seconds }
    }
}

/// Asks running fetches to stop: the message in flight is finished and recorded, what is stored
/// is deleted (per policy) and `QUIT` sent; nothing else is downloaded. Used on SIGTERM.
public final class FetchStopSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func requestStop() {
        flag.store(true, ordering: .sequentiallyConsistent)
    }

    public var isStopRequested: Bool {
        flag.load(ordering: .sequentiallyConsistent)
    }
}

/// What a run reports while it works, for progress displays. Called on the fetching task; keep it cheap.
public enum FetchProgress: Sendable, Hashable {
    /// The plan is made: this many messages and octets will be downloaded.
    case planned(account: String, messages: Int, bytes: Int)
    /// Octets of message content received.
    case received(account: String, bytes: Int)
    /// One message is stored and recorded.
    case stored(account: String)
    /// The account is done (its report follows).
    case finished(account: String)
}

/// A message durably stored and recorded, for the offline mailbox's index and manifest.
public struct StoredMessage: Sendable, Hashable {
    public var account: String
    /// Where it is: a Maildir file path, an mbox path, or the MDA command.
    public var location: String
    /// SHA-256 of the stored file's bytes (Maildir targets only).
    public var sha256: [UInt8]?
}

/// Options of one `runFetch`.
public struct FetchOptions: Sendable {
    /// Record every message now on the server as downloaded, without downloading or deleting.
    public var markSeen: Bool
    /// State files of other programs to import before fetching.
    public var imports: [StateImport]
    public var clock: FetchClock
    public var faults: FaultInjector
    public var stop: FetchStopSignal
    /// Opens sessions; nil uses POP3 (`POP3MailSourceConnector`). Tests pass a fake.
    public var connector: (@Sendable (FetchAccount) -> any MailSourceConnector)?
    /// Progress events (for a terminal progress bar); nil for none.
    public var progress: (@Sendable (FetchProgress) -> Void)?
    /// Called with the messages of each group once they are stored and recorded, on NIO's
    /// blocking pool (blocking work is fine there). Errors are the callee's to log.
    public var stored: (@Sendable ([StoredMessage]) -> Void)?

    public init(
        markSeen: Bool = false,
        imports: [StateImport] = [],
        clock: FetchClock = .system,
        faults: FaultInjector = .fromEnvironment(),
        stop: FetchStopSignal = FetchStopSignal(),
        connector: (@Sendable (FetchAccount) -> any MailSourceConnector)? = nil,
        progress: (@Sendable (FetchProgress) -> Void)? = nil,
        stored: (@Sendable ([StoredMessage]) -> Void)? = nil
    ) {
        self.stored = stored
        self.progress = progress
        self.markSeen = markSeen
        self.imports = imports
        self.clock = clock
        self.faults = faults
        self.stop = stop
        self.connector = connector
    }
}
