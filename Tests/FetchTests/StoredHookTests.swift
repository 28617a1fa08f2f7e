import Crypto
import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import Fetch

@Suite("Stored-message hook")
struct StoredHookTests {
    @Test("each stored Maildir message is reported once, with the SHA-256 of the file as written")
    func digestsMatchFiles() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1)), ("b", sampleMessage(2) + "\r\n>From here\r\n")])
        let account = makeAccount(directory)
        let seen = NIOLockedValueBox<[StoredMessage]>([])
        let progress = NIOLockedValueBox<[FetchProgress]>([])
        let options = FetchOptions(
            clock: .fixed(1_700_000_000),
            faults: .none,
            connector: { _ in FakeConnector(server: server) },
            progress: { event in progress.withLockedValue { $0.append(event) } },
            stored: { messages in seen.withLockedValue { $0.append(contentsOf: messages) } }
        )
        let report = await runFetch(accounts: [account], options: options, logger: testLogger)
        #expect(report.succeeded)
        let stored = seen.withLockedValue { $0 }
        #expect(stored.count == 2)
        for message in stored {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: message.location))
            #expect(message.sha256 == Array(SHA256.hash(data: bytes)))
            #expect(message.location.contains("/new/"))
        }
        let events = progress.withLockedValue { $0 }
        #expect(events.first == .planned(account: account.name, messages: 2, bytes: report.accounts[0].bytes))
        #expect(events.filter { $0 == .stored(account: account.name) }.count == 2)
        #expect(events.last == .finished(account: account.name))
    }
}
