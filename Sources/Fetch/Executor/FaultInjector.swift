// Named points between the executor's steps where tests stop the run, in process or by _exit.
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The boundaries between the steps of storing one message and deleting it on the server.
public enum FaultPoint: String, Hashable, Sendable, CaseIterable, Codable {
    /// The last byte of the message has arrived (nothing durable yet).
    case downloaded
    /// The temporary copy is fsynced.
    case fsynced
    /// Delivery commands (MDA) only: the state records that the message is being handed to the
    /// command, which has not run yet.
    case handedOver = "handed-over"
    /// The copy is visible: renamed into `new/`, appended to the mbox, or accepted by the MDA.
    case renamed
    /// The state records it (committed).
    case recorded
    /// `DELE` was sent and acknowledged (the server has not deleted it yet: no `QUIT`).
    case deleSent = "dele-sent"
    /// `QUIT` was acknowledged; the state does not yet say "deleted on server".
    case quit
}

/// Called at every fault point with the point and how many times the run reached it (1-based:
/// the first message to reach `renamed` is 1). Throwing stops the run there, as a crash would:
/// nothing more is written and no `QUIT` is sent.
public struct FaultInjector: Sendable {
    let handler: (@Sendable (FaultPoint, Int) throws -> Void)?

    /// No faults.
    public static let none = FaultInjector(handler: nil)

    /// In-process faults for unit tests.
    public static func inProcess(_ handler: @escaping @Sendable (FaultPoint, Int) throws -> Void) -> FaultInjector {
        FaultInjector(handler: handler)
    }

    /// Reads `POSTOFFICE_FAULT` (e.g. `after-renamed:3`, several separated by commas): the process
    /// calls `_exit(137)` when the n-th message reaches that point, as if killed. Unset or empty
    /// means no faults; an unparsable value is ignored.
    public static func fromEnvironment(_ environment: [String: String]? = nil) -> FaultInjector {
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard let value = environment["POSTOFFICE_FAULT"], let triggers = parse(value), !triggers.isEmpty else {
            return .none
        }
        return FaultInjector { point, count in
            if triggers.contains(where: { $0.point == point && $0.count == count }) {
                _exit(137)
            }
        }
    }

    /// Parses `after-POINT:N[,after-POINT:N…]`.
    public static func parse(_ value: String) -> [(point: FaultPoint, count: Int)]? {
        var result: [(point: FaultPoint, count: Int)] = []
        for item in value.split(separator: ",") {
            let parts = item.trimmingCharacters(in: .whitespaces).split(separator: ":")
            guard parts.count == 2, parts[0].hasPrefix("after-"),
                let point = FaultPoint(rawValue: String(parts[0].dropFirst("after-".count))),
                let count = Int(parts[1]), count >= 1
            else { return nil }
            result.append((point, count))
        }
        return result
    }
}

/// The error an in-process fault handler may throw to simulate a crash.
public struct InjectedFault: Error, Hashable, Sendable {
    public var point: FaultPoint
    public var count: Int
    public init(point: FaultPoint, count: Int) {
        self.point = point
        self.count = count
    }
}

/// Counts arrivals per point for one run.
struct FaultCounter {
    let injector: FaultInjector
    private var counts: [FaultPoint: Int] = [:]

    init(_ injector: FaultInjector) {
        self.injector = injector
    }

    mutating func reached(_ point: FaultPoint) throws {
        guard let handler = injector.handler else { return }
        counts[point, default: 0] += 1
        try handler(point, counts[point]!)  // safe: set on the line above
    }
}
