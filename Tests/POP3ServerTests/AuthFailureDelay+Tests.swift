import NIOCore
import POP3TestSupport
import TestTiming
import Testing

@testable import POP3Server

/// Growing delays before answering failed logins, per client address (`AuthFailureDelays`).
/// Network tests assert lower bounds only: a loaded machine may always be slower.
@Suite("Failed-login delays")
struct AuthFailureDelayTests {
    @Test func delaysGrowThreefoldUpToTheCap() {
        let delays = AuthFailureDelays(base: 0.2, cap: 1.0)
        #expect(delays.recordFailure(address: "192.0.2.1") == .milliseconds(200))
        #expect(delays.recordFailure(address: "192.0.2.1") == .milliseconds(600))
        #expect(delays.recordFailure(address: "192.0.2.1") == .milliseconds(1000), "capped")
        #expect(delays.recordFailure(address: "192.0.2.1") == .milliseconds(1000))
        #expect(delays.recordFailure(address: "192.0.2.2") == .milliseconds(200), "other addresses are not affected")
        delays.recordSuccess(address: "192.0.2.1")
        #expect(delays.recordFailure(address: "192.0.2.1") == .milliseconds(200), "a success starts over")
    }

    @Test func zeroDisables() {
        let delays = AuthFailureDelays(base: 0, cap: 30)
        for _ in 0..<5 { #expect(delays.recordFailure(address: "192.0.2.1") == .zero) }
    }

    @Test func quietAddressesAreForgottenAndMemoryIsBounded() {
        let delays = AuthFailureDelays(base: 1, cap: 30, forgetAfter: .seconds(60), capacity: 3)
        let start = ContinuousClock.now
        #expect(delays.recordFailure(address: "a", now: start) == .seconds(1))
        #expect(delays.recordFailure(address: "a", now: start + .seconds(1)) == .seconds(3))
        #expect(
            delays.recordFailure(address: "a", now: start + .seconds(120)) == .seconds(1),
            "forgotten after a quiet minute"
        )
        for (offset, address) in ["b", "c", "d"].enumerated() {
            _ = delays.recordFailure(address: address, now: start + .seconds(121 + offset))
        }
        // "a" was the quietest when "d" needed room: it starts over.
        #expect(delays.recordFailure(address: "a", now: start + .seconds(130)) == .seconds(1))
    }

    /// The answer to a failed login comes after the delay; the second failure from the same
    /// address, on another connection, waits at least three times as long.
    @Test func secondFailureFromTheSameAddressWaitsThreeTimesLonger() async throws {
        try await TestServer.with(configure: { $0.authFailureDelay = 0.2 }) { server in
            var elapsed: [Duration] = []
            for _ in 0..<2 {
                try await server.connect { client async throws in
                    _ = try await client.line()
                    #expect(try await client.command("USER alice") == "+OK send PASS")
                    let start = ContinuousClock.now
                    #expect(try await client.command("PASS wrong") == "-ERR [AUTH] authentication failed")
                    elapsed.append(ContinuousClock.now - start)
                }
            }
            #expect(elapsed[0] >= .milliseconds(200))
            #expect(elapsed[1] >= .milliseconds(600))
        }
    }

    /// A right password is answered without the failure delay, even from an address that has
    /// failed before, and it clears that address's record.
    @Test func successIsNotDelayed() async throws {
        // Both scaled, so that a slow build (a sanitizer's) still tells the two apart.
        let failureDelay = TestTimeScale.scaled(.seconds(20))
        let failureSeconds = Double(failureDelay.components.seconds)
        try await TestServer.with(configure: { $0.authFailureDelay = failureSeconds }) { server in
            let start = ContinuousClock.now
            try await server.loggedIn { client async throws in
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
            // That would be the delay of a failure; a success takes nowhere near it.
            #expect(ContinuousClock.now - start < failureDelay / 2)
        }
    }
}

/// Which addresses share a failure record.
@Suite("PeerAddress.clientKey")
struct PeerAddressClientKeyTests {
    @Test(arguments: [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb:cccc:dddd:eeee", "2001:db8:1:2::/64"),
        ("2001:0db8:0001:0002::9", "2001:db8:1:2::/64"),
        ("2001:db8::1", "2001:db8:0:0::/64"),
        ("::1", "0:0:0:0::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
    ])
    func key(address: String, expected: String) throws {
        let peer = PeerAddress(try SocketAddress(ipAddress: address, port: 110))
        #expect(peer.clientKey == expected)
    }

    /// Two addresses of one /64 count as one client for the delays.
    @Test func oneNetworkSharesTheDelay() throws {
        let delays = AuthFailureDelays(base: 0.2, cap: 30)
        let first = PeerAddress(try SocketAddress(ipAddress: "2001:db8:1:2::a", port: 1))
        let second = PeerAddress(try SocketAddress(ipAddress: "2001:db8:1:2::b", port: 2))
        #expect(delays.recordFailure(address: first.clientKey) == .milliseconds(200))
        #expect(delays.recordFailure(address: second.clientKey) == .milliseconds(600))
    }
}
