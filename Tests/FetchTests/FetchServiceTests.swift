import Foundation
import NIOConcurrencyHelpers
import ServiceLifecycleTestKit
import TestTiming
import Testing

@testable import Fetch

@Suite("FetchService")
struct FetchServiceTests {
    final class Reports: Sendable {
        let items = NIOLockedValueBox<[FetchReport]>([])
        var count: Int { items.withLockedValue { $0.count } }
    }

    @Test("backoff doubles from the interval up to the maximum")
    func backoff() {
        let service = FetchService(
            accounts: [],
            interval: .seconds(60),
            maximumBackoff: .seconds(600),
            logger: testLogger
        )
        #expect(service.errorBackoff(failures: 1) == .seconds(60))
        #expect(service.errorBackoff(failures: 2) == .seconds(120))
        #expect(service.errorBackoff(failures: 4) == .seconds(480))
        #expect(service.errorBackoff(failures: 5) == .seconds(600))
        #expect(service.errorBackoff(failures: 1000) == .seconds(600))
    }

    @Test("polls every interval, picks up new mail, reloads accounts on request, stops on cancel")
    func polling() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let server = FakeMailServer([("a", sampleMessage(1))])
        let other = FakeMailServer([("z", sampleMessage(9))])
        let account = makeAccount(directory)
        var secondAccount = makeAccount(directory, target: .maildir(path: directory.path + "/M2"), name: "second")
        secondAccount.statePath = directory.path + "/state2.sqlite"
        secondAccount.host = "other.example.org"
        let reports = Reports()
        let options = FetchOptions(
            faults: .none,
            connector: { account in FakeConnector(server: account.name == "second" ? other : server) }
        )
        let service = FetchService(
            accounts: [account],
            interval: .milliseconds(50),
            options: options,
            logger: testLogger,
            reload: { [secondAccount] in [secondAccount] },
            onReport: { report in reports.items.withLockedValue { $0.append(report) } }
        )
        let task = Task { try await service.run() }
        // Up to 30 s: under the whole suite, NIO's blocking pool (where every test's storing
        // runs) is busy; the condition usually holds within a poll or two.
        func waitFor(_ condition: () -> Bool) async throws {
            _ = await eventually(seconds: 30, condition)
        }
        try await waitFor { server.uids.isEmpty }
        #expect(server.uids.isEmpty)
        server.add("b", sampleMessage(2))
        try await waitFor { server.uids.isEmpty }
        #expect(server.uids.isEmpty)
        service.requestReload()
        try await waitFor { other.uids.isEmpty }
        #expect(other.uids.isEmpty)
        task.cancel()
        _ = await task.result
        #expect(reports.count >= 3)
        #expect(try maildirMessages(directory.path + "/Maildir").map(\.uid).sorted() == ["a", "b"])
        #expect(try maildirMessages(directory.path + "/M2").map(\.uid) == ["z"])
    }

    @Test("a stop request ends the service")
    func stop() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let stopSignal = FetchStopSignal()
        let reports = Reports()
        let service = FetchService(
            accounts: [makeAccount(directory)],
            interval: .seconds(3600),
            options: FetchOptions(
                faults: .none,
                stop: stopSignal,
                connector: { _ in FakeConnector(server: FakeMailServer([])) }
            ),
            logger: testLogger,
            onReport: { report in reports.items.withLockedValue { $0.append(report) } }
        )
        let task = Task { try await service.run() }
        // Once the first round is done the service waits out its interval: the stop must end that.
        #expect(await eventually { reports.count > 0 })
        #expect(reports.count == 1)
        stopSignal.requestStop()
        let clock = ContinuousClock()
        let started = clock.now
        _ = await task.result
        // Well before the 3,600 s interval: the stop ended the wait.
        #expect(clock.now - started < TestTimeScale.scaled(.seconds(5)))
    }

    /// What SIGTERM does to `postoffice fetch --daemon` (the command line turns it into the
    /// group's graceful shutdown): the messages in flight are finished and recorded (the window
    /// being stored, and what of the next one was received whole meanwhile), nothing more is
    /// asked for, what is stored is deleted, QUIT is sent, and the service returns.
    @Test("graceful shutdown finishes the message in flight, deletes only what is stored, and returns")
    func gracefulShutdown() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let messages = (1...5).map { ("g-\($0)", sampleMessage($0)) }
        let server = FakeMailServer(messages)
        let reports = Reports()
        try await testGracefulShutdown { trigger in
            let service = FetchService(
                accounts: [makeAccount(directory)],
                interval: .seconds(3600),
                options: FetchOptions(
                    faults: .inProcess { point, count in
                        // The shutdown arrives while the second message is on its way to disk.
                        if point == .downloaded && count == 2 { trigger.triggerGracefulShutdown() }
                    },
                    connector: { _ in FakeConnector(server: server) }
                ),
                logger: testLogger,
                onReport: { report in reports.items.withLockedValue { $0.append(report) } }
            )
            try await service.run()
        }
        let report = try #require(reports.items.withLockedValue { $0.first?.accounts.first })
        #expect(report.interrupted)
        #expect(report.downloaded >= 2 && report.downloaded < messages.count)
        #expect(report.deleted == report.downloaded)
        #expect(server.uids == messages.dropFirst(report.downloaded).map(\.0))
        let stored = try maildirMessages(directory.path + "/Maildir").map(\.uid).sorted()
        #expect(stored == messages.prefix(report.downloaded).map(\.0))
        #expect(server.quits == 1)
    }
}
