import FileIO
import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import Fetch

/// The name of the calling thread (`BlockingIO.pool` names its threads `PO-BLOCKING-#n`).
private func currentThreadName() -> String {
    Thread.current.name ?? ""
}

/// Writes, fsyncs, SQLite and delivery commands run on NIO's blocking pool, never on Swift's
/// cooperative pool (whose few threads every task shares) or an event loop.
@Suite("Blocking work runs on NIO's thread pool")
struct BlockingWorkTests {
    @Test(
        "every storing step, the stored hook and a delivery command run on the blocking pool",
        arguments: ["maildir", "mbox", "mda"]
    )
    func storingRunsOnTheBlockingPool(kind: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let target: DeliveryTarget =
            switch kind {
            case "maildir": .maildir(path: directory.path + "/Maildir")
            case "mbox": .mbox(path: directory.path + "/mbox")
            default: .mda(command: "cat > /dev/null")
            }
        let server = FakeMailServer((1...3).map { ("u\($0)", sampleMessage($0)) })
        let threads = NIOLockedValueBox<[String]>([])
        let options = FetchOptions(
            clock: .fixed(1_700_000_000),
            faults: .inProcess { point, _ in
                if [.downloaded, .fsynced, .handedOver, .renamed, .recorded].contains(point) {
                    threads.withLockedValue { $0.append("\(point.rawValue) \(currentThreadName())") }
                }
            },
            connector: { _ in FakeConnector(server: server) },
            stored: { _ in threads.withLockedValue { $0.append("stored \(currentThreadName())") } }
        )
        let report = await runFetch(
            accounts: [makeAccount(directory, target: target)],
            options: options,
            logger: testLogger
        )
        #expect(report.succeeded)
        let seen = threads.withLockedValue { $0 }
        // Four storing steps per message (five with a command's hand-over), and the stored hook
        // once per group (per message for a command).
        let steps = seen.filter { !$0.hasPrefix("stored ") }
        #expect(steps.count == 3 * (kind == "mda" ? 5 : 4))
        #expect(seen.count - steps.count == (kind == "mda" ? 3 : 2))
        for entry in seen {
            #expect(entry.split(separator: " ").last?.hasPrefix(BlockingIO.threadNamePrefix) == true, "\(entry)")
        }
    }
}
