import Accounts
import NIOConcurrencyHelpers
import POP3TestSupport
import SASL
import TestTiming
import Testing

@testable import POP3Server

/// Password checks for clients that failed a login recently run a few at a time, so a login
/// flood cannot fill the hashing pool ahead of everyone else (`SuspectCheckGate`).
@Suite("Suspect password checks")
struct SuspectCheckTests {
    @Test func suspectChecksWaitTheirTurnAndOthersPassStraightThrough() async throws {
        let gate = SuspectCheckGate(limit: 1)
        let events = NIOLockedValueBox<[String]>([])
        let (release, releaser) = AsyncStream<Void>.makeStream()
        let first = Task {
            await gate.run(suspect: true) {
                events.withLockedValue { $0.append("first started") }
                for await _ in release { break }
                events.withLockedValue { $0.append("first done") }
            }
        }
        try await Self.waitUntil { events.withLockedValue { $0 } == ["first started"] }
        let second = Task {
            await gate.run(suspect: true) { events.withLockedValue { $0.append("second") } }
        }
        try await Self.waitUntil { gate.waitingCount == 1 }
        await gate.run(suspect: false) { events.withLockedValue { $0.append("not suspect") } }
        #expect(events.withLockedValue { $0 } == ["first started", "not suspect"], "the second waits for the first")
        releaser.yield()
        await first.value
        await second.value
        #expect(events.withLockedValue { $0 } == ["first started", "not suspect", "first done", "second"])
        #expect(gate.waitingCount == 0)
    }

    @Test func failuresAreRememberedWithoutADelayToo() {
        let delays = AuthFailureDelays(base: 0, cap: 0, forgetAfter: .seconds(60))
        let start = ContinuousClock.now
        #expect(!delays.hasRecentFailures(address: "192.0.2.1", now: start))
        #expect(delays.recordFailure(address: "192.0.2.1", now: start) == .zero)
        #expect(delays.hasRecentFailures(address: "192.0.2.1", now: start + .seconds(59)))
        #expect(!delays.hasRecentFailures(address: "192.0.2.1", now: start + .seconds(61)), "forgotten")
        #expect(!delays.hasRecentFailures(address: "192.0.2.2", now: start))
        delays.recordSuccess(address: "192.0.2.1")
        #expect(!delays.hasRecentFailures(address: "192.0.2.1", now: start + .seconds(1)), "a login clears it")
    }

    /// Once 127.0.0.1 has failed, its wrong passwords on several connections at once are
    /// checked at most `SuspectCheckGate.defaultLimit` at a time (each check here takes 300 ms).
    @Test func checksFromAnAddressThatFailedRunAFewAtATime() async throws {
        let accounts = SlowAccounts(InMemoryAccounts(["alice": "secret"]), checkTakes: .milliseconds(300))
        try await TestServer.with(configure: { $0.accountProvider = accounts }) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS wrong").hasPrefix("-ERR [AUTH]"))
            }
            let attempts = SuspectCheckGate.defaultLimit + 3
            try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<attempts {
                    group.addTask {
                        try await server.connect { client async throws in
                            _ = try await client.line()
                            _ = try await client.command("USER alice")
                            return try await client.command("PASS wrong")
                        }
                    }
                }
                for try await reply in group {
                    #expect(reply.hasPrefix("-ERR [AUTH]"))
                }
            }
            #expect(accounts.checks == attempts + 1)
            #expect(accounts.mostAtOnce <= SuspectCheckGate.defaultLimit)
        }
    }

    static func waitUntil(_ condition: () -> Bool) async throws {
        try #require(await eventually(condition))
    }
}

/// Accounts whose every password check takes `checkTakes`, counting how many run at once.
final class SlowAccounts: AccountProvider {
    private struct Counts {
        var checks = 0
        var running = 0
        var most = 0
    }

    let accounts: InMemoryAccounts
    let checkTakes: Duration
    private let counts = NIOLockedValueBox(Counts())

    init(_ accounts: InMemoryAccounts, checkTakes: Duration) {
        self.accounts = accounts
        self.checkTakes = checkTakes
    }

    var checks: Int { self.counts.withLockedValue { $0.checks } }
    var mostAtOnce: Int { self.counts.withLockedValue { $0.most } }

    func verifyPassword(user: String, password: [UInt8]) async -> AuthenticationResult {
        self.counts.withLockedValue { counts in
            counts.checks += 1
            counts.running += 1
            counts.most = max(counts.most, counts.running)
        }
        try? await Task.sleep(for: self.checkTakes)
        self.counts.withLockedValue { $0.running -= 1 }
        return await self.accounts.verifyPassword(user: user, password: password)
    }

    func scramCredentials(user: String) async -> SCRAMCredentials? {
        await self.accounts.scramCredentials(user: user)
    }

    func apopSecret(user: String) async -> [UInt8]? {
        await self.accounts.apopSecret(user: user)
    }

    func accountExists(user: String) async -> Bool {
        await self.accounts.accountExists(user: user)
    }
}
