import Foundation
import MailCore
import MetricsTestKit
import NIOCore
import POP3TestSupport
import ProxyProtocol
import ServerMetrics
import Testing

@testable import POP3Server

/// The per-client connection cap and bans after repeated failed logins, over loopback. The
/// PROXY listener lets one test speak for several client addresses.
@Suite("Abuse controls")
struct AbuseControlTests {
    static func v1(_ source: String, _ port: Int = 40000) -> String {
        source.contains(":")
            ? "PROXY TCP6 \(source) ::1 \(port) 110\r\n" : "PROXY TCP4 \(source) 127.0.0.1 \(port) 110\r\n"
    }

    /// Proxied listeners, trusted loopback proxy, and `change` on top.
    static func proxied(
        _ change: @escaping (inout POP3ServerConfiguration) -> Void
    ) -> (inout POP3ServerConfiguration) -> Void {
        { configuration in
            configuration.listeners = [.init(host: "127.0.0.1", port: 0, implicitTLS: false, proxyProtocol: true)]
            configuration.trustedProxies = [IPNetwork("127.0.0.1")!]  // safe: a literal address
            // The clients the headers name are not on loopback: cleartext logins need this.
            configuration.allowCleartextAuth = true
            change(&configuration)
        }
    }

    /// One client address cannot hold every slot: past its cap it is refused, others are not.
    @Test func perClientCapRefusesOnlyThatClient() async throws {
        try await TestServer.with(configure: { $0.maximumConnectionsPerClient = 2 }) { server in
            try await ConnectionLimitTests.expectThirdRefusedUntilOneCloses(
                server,
                refusal: "-ERR [SYS/TEMP] too many connections from your address, try again later"
            )
            #expect(server.log.lines.contains { $0.contains("connections open from 127.0.0.1") })
        }
    }

    /// Behind a proxy the cap counts the real clients; an IPv6 /64 counts as one client.
    @Test func perClientCapCountsRealClientsAndIPv6Networks() async throws {
        try await TestServer.with(configure: Self.proxied { $0.maximumConnectionsPerClient = 1 }) { server in
            try await server.connect { a async throws in
                try await a.send(Self.v1("192.0.2.1"))
                #expect(try await a.line().hasPrefix("+OK"))
                try await server.connect { b async throws in
                    try await b.send(Self.v1("192.0.2.2"))
                    #expect(try await b.line().hasPrefix("+OK"), "another client has its own count")
                    try await server.connect { c async throws in
                        try await c.send(Self.v1("2001:db8:5:6::1"))
                        #expect(try await c.line().hasPrefix("+OK"))
                        try await server.connect { d async throws in
                            try await d.send(Self.v1("2001:db8:5:6::ffff"))
                            #expect(
                                try await d.readUntilClosed().first?.hasPrefix(
                                    "-ERR [SYS/TEMP] too many connections from your address"
                                ) == true
                            )
                        }
                    }
                    try await server.connect { e async throws in
                        try await e.send(Self.v1("192.0.2.1"))
                        #expect(try await e.readUntilClosed().first?.hasPrefix("-ERR [SYS/TEMP]") == true)
                    }
                }
            }
        }
    }

    @Test func trustedNetworksAreNotCapped() async throws {
        try await TestServer.with(configure: {
            $0.maximumConnectionsPerClient = 1
            $0.trustedNetworks = [IPNetwork("127.0.0.0/8")!]  // safe: a literal network
        }) { server in
            try await server.connect { first async throws in
                #expect(try await first.line().hasPrefix("+OK"))
                try await server.connect { second async throws in
                    #expect(try await second.line().hasPrefix("+OK"))
                }
            }
        }
    }

    /// Two failures ban the address and the user name: the failing connection is closed, the
    /// address is refused at connect, the user name is refused from elsewhere, another user
    /// from elsewhere logs in, and the bans reach the ban file. Lifting the user's ban in the
    /// file takes effect without a restart.
    @Test func failedLoginsBanTheAddressAndTheUser() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bans-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = BanFile(path: directory + "/bans")
        let configure = Self.proxied {
            $0.banPolicy = BanPolicy(failures: 2, window: 600, banTime: 600)
            $0.banFile = file.path
        }
        try await TestServer.with(configure: configure) { server in
            try await server.connect { client async throws in
                try await client.send(Self.v1("192.0.2.7"))
                _ = try await client.line()
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS wrong") == "-ERR [AUTH] authentication failed")
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS wrong") == "-ERR [AUTH] authentication failed")
                #expect(try await client.readUntilClosed() == [], "the banning failure ends the session")
            }
            let lines = server.log.lines
            #expect(lines.contains("ban address=192.0.2.7 key=192.0.2.7 failures=2 window=600s duration=600s"))
            #expect(lines.contains("ban user=alice address=192.0.2.7 failures=2 window=600s duration=600s"))

            try await server.connect { client async throws in
                try await client.send(Self.v1("192.0.2.7"))
                #expect(
                    try await client.readUntilClosed() == [
                        "-ERR [SYS/TEMP] too many failed logins from your address, try again later"
                    ]
                )
            }
            try await server.connect { client async throws in
                try await client.send(Self.v1("198.51.100.3"))
                _ = try await client.line()
                _ = try await client.command("USER alice")
                #expect(
                    try await client.command("PASS secret") == "-ERR [AUTH] authentication failed",
                    "a banned user name is refused even with its password"
                )
                _ = try await client.command("USER bob")
                #expect(try await client.command("PASS hunter2").hasPrefix("+OK"))
            }
            #expect(
                server.log.lines.contains {
                    $0.hasPrefix("login failed user=alice peer=198.51.100.3:40000") && $0.hasSuffix("reason=banned")
                }
            )

            // The server writes its bans within a second or so.
            var persisted: [BanKey: Int64] = [:]
            for _ in 0..<100 {
                persisted = try file.load()
                if persisted.count == 2 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(Set(persisted.keys) == [.address("192.0.2.7"), .user("alice")])

            try file.update(now: BanFile.now()) { $0[.user("alice")] = nil }
            var loggedIn = false
            for _ in 0..<50 where !loggedIn {
                try await Task.sleep(for: .milliseconds(100))
                loggedIn = try await server.connect { client async throws in
                    try await client.send(Self.v1("198.51.100.4"))
                    _ = try await client.line()
                    _ = try await client.command("USER alice")
                    return try await client.command("PASS secret").hasPrefix("+OK")
                }
            }
            #expect(loggedIn, "the lifted ban no longer applies")
        }
        // A restarted server keeps the address ban.
        try await TestServer.with(configure: configure) { server in
            try await server.connect { client async throws in
                try await client.send(Self.v1("192.0.2.7"))
                #expect(try await client.readUntilClosed().first?.contains("too many failed logins") == true)
            }
        }
    }

    /// A failed AUTH PLAIN is logged, and counted, under the user name it tried; from two
    /// addresses, only the user name reaches the threshold.
    @Test func saslFailuresCountForTheUserName() async throws {
        let configure = Self.proxied { $0.banPolicy = BanPolicy(failures: 2, window: 600, banTime: 600) }
        try await TestServer.with(configure: configure) { server in
            for source in ["192.0.2.21", "192.0.2.22"] {
                try await server.connect { client async throws in
                    try await client.send(Self.v1(source))
                    _ = try await client.line()
                    let plain = Base64.encode(Array("\0alice\0wrong".utf8))
                    #expect(try await client.command("AUTH PLAIN \(plain)") == "-ERR [AUTH] authentication failed")
                }
            }
            let lines = server.log.lines
            #expect(lines.contains { $0.hasPrefix("login failed user=alice peer=192.0.2.21:40000 tls=no mech=PLAIN") })
            #expect(lines.contains("ban user=alice address=192.0.2.22 failures=2 window=600s duration=600s"))
            #expect(!lines.contains { $0.hasPrefix("ban address=") })
        }
    }

    /// The bans and the refusals at connect reach the server's metrics, by kind and reason.
    @Test func bansAndRefusalsAreCounted() async throws {
        let metrics = TestMetrics()
        let configure = Self.proxied {
            $0.banPolicy = BanPolicy(failures: 2, window: 600, banTime: 600)
            $0.maximumConnectionsPerClient = 1
            $0.metrics = ServerMetrics(factory: metrics)
        }
        func count(_ descriptor: MetricDescriptor, _ value: String) throws -> Int64 {
            try metrics.expectCounter(descriptor.name, [(descriptor.labels[0], value)]).totalValue
        }
        try await TestServer.with(configure: configure) { server in
            #expect(try count(MetricNames.bans, "address") == 0)
            #expect(try count(MetricNames.connectionsRefused, "banned") == 0)
            try await server.connect { client async throws in
                try await client.send(Self.v1("192.0.2.7"))
                _ = try await client.line()
                for _ in 0..<2 {
                    _ = try await client.command("USER alice")
                    #expect(try await client.command("PASS wrong") == "-ERR [AUTH] authentication failed")
                }
                #expect(try await client.readUntilClosed() == [])
            }
            #expect(try count(MetricNames.bans, "address") == 1)
            #expect(try count(MetricNames.bans, "user") == 1)
            try await server.connect { client async throws in
                try await client.send(Self.v1("192.0.2.7"))
                #expect(try await client.readUntilClosed().first?.contains("too many failed logins") == true)
            }
            #expect(try count(MetricNames.connectionsRefused, "banned") == 1)
            try await server.connect { first async throws in
                try await first.send(Self.v1("192.0.2.8"))
                #expect(try await first.line().hasPrefix("+OK"))
                try await server.connect { second async throws in
                    try await second.send(Self.v1("192.0.2.8"))
                    #expect(try await second.readUntilClosed().first?.hasPrefix("-ERR [SYS/TEMP]") == true)
                }
            }
            #expect(try count(MetricNames.connectionsRefused, "client_full") == 1)
            #expect(try count(MetricNames.connectionsRefused, "server_full") == 0)
        }
    }

    /// A reload (SIGHUP) turns bans on for new logins, and changes who may send PROXY headers.
    @Test func reloadAppliesTheBanPolicyAndTheTrustedProxies() async throws {
        try await TestServer.with(configure: Self.proxied { $0.banPolicy = nil }) { server in
            try await server.connect { client async throws in
                try await client.send(Self.v1("192.0.2.31"))
                _ = try await client.line()
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS wrong") == "-ERR [AUTH] authentication failed")
            }
            #expect(!server.log.lines.contains { $0.hasPrefix("ban ") }, "bans are off")

            var configuration = server.server.configuration
            configuration.banPolicy = BanPolicy(failures: 1, window: 600, banTime: 600)
            try server.server.reload(configuration)
            try await server.connect { client async throws in
                try await client.send(Self.v1("192.0.2.32"))
                _ = try await client.line()
                _ = try await client.command("USER carol")
                #expect(try await client.command("PASS wrong") == "-ERR [AUTH] authentication failed")
                #expect(try await client.readUntilClosed() == [], "the banning failure ends the session")
            }
            #expect(
                server.log.lines.contains("ban address=192.0.2.32 key=192.0.2.32 failures=1 window=600s duration=600s")
            )

            configuration.trustedProxies = [IPNetwork("192.0.2.0/24")!]  // safe: a literal network
            try server.server.reload(configuration)
            try await server.connect { client async throws in
                // Closed without a read: the header may not go out, and the close may be a reset.
                try? await client.send(Self.v1("198.51.100.9"))
                #expect((try? await client.readUntilClosed()) ?? [] == [], "loopback is no longer a trusted proxy")
            }
            #expect(server.log.lines.contains { $0.hasSuffix("not a trusted proxy") })
        }
    }

    @Test func trustedNetworksAreNeverBanned() async throws {
        let configure = Self.proxied {
            $0.banPolicy = BanPolicy(failures: 1, window: 600, banTime: 600)
            $0.trustedNetworks = [IPNetwork("192.0.2.0/24")!]  // safe: a literal network
        }
        try await TestServer.with(configure: configure) { server in
            for _ in 0..<2 {
                try await server.connect { client async throws in
                    try await client.send(Self.v1("192.0.2.9"))
                    #expect(try await client.line().hasPrefix("+OK"))
                    _ = try await client.command("USER alice")
                    #expect(try await client.command("PASS wrong") == "-ERR [AUTH] authentication failed")
                }
            }
            #expect(!server.log.lines.contains { $0.hasPrefix("ban ") })
        }
    }
}

@Suite("BanList and BanFile")
struct BanListTests {
    @Test func failuresWithinTheWindowBan() {
        let bans = BanList(policy: BanPolicy(failures: 3, window: 60, banTime: 300))
        let key = BanKey.address("192.0.2.1")
        #expect(bans.recordFailure([key], now: 1000) == [])
        #expect(bans.recordFailure([key], now: 1030) == [])
        #expect(bans.recordFailure([key], now: 1070) == [], "the first failure has left the window")
        #expect(!bans.isBanned(key, now: 1070))
        #expect(bans.recordFailure([key], now: 1080) == [key])
        #expect(bans.isBanned(key, now: 1080))
        #expect(bans.isBanned(key, now: 1379))
        #expect(!bans.isBanned(key, now: 1380), "a ban ends after the ban time")
        #expect(bans.takePending() == [key: 1380])
        #expect(bans.takePending() == [:])
    }

    @Test func successClearsAUsersFailures() {
        let bans = BanList(policy: BanPolicy(failures: 2, window: 60, banTime: 300))
        _ = bans.recordFailure([.user("alice")], now: 1)
        bans.recordSuccess(.user("alice"))
        #expect(bans.recordFailure([.user("alice")], now: 2) == [])
        #expect(bans.recordFailure([.user("alice")], now: 3) == [.user("alice")])
    }

    @Test func replaceKeepsUnwrittenBans() {
        let bans = BanList(policy: BanPolicy(failures: 1, window: 60, banTime: 300))
        _ = bans.recordFailure([.user("new")], now: 10)
        bans.replace(with: [.address("192.0.2.1"): 500])
        #expect(bans.bans(now: 10) == [.address("192.0.2.1"): 500, .user("new"): 310])
        bans.replace(with: [:])
        #expect(bans.bans(now: 10) == [.user("new"): 310], "an unwritten ban survives a re-read")
        _ = bans.takePending()
        bans.replace(with: [:])
        #expect(bans.bans(now: 10) == [:], "a written ban removed from the file is lifted")
    }

    @Test func trackedKeysAreBounded() {
        let bans = BanList(policy: BanPolicy(failures: 1_000, window: 1_000_000, banTime: 1))
        for index in 0..<(BanList.maximumTrackedKeys + 10) {
            _ = bans.recordFailure([.user("u\(index)")], now: Int64(index))
        }
        // Nothing to observe but that it stays bounded and keeps working.
        #expect(bans.recordFailure([.user("u0")], now: 1) == [])
    }

    @Test func fileRoundTripAndUpdate() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bans-\(UUID().uuidString)").path
        defer {
            for suffix in ["", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let file = BanFile(path: path)
        #expect(try file.load() == [:], "no file, no bans")
        try file.update(now: 100) { bans in
            bans[.address("2001:db8:1:2::/64")] = 400
            bans[.user("alice")] = 200
            bans[.address("192.0.2.1")] = 50
        }
        #expect(try file.load() == [.address("2001:db8:1:2::/64"): 400, .user("alice"): 200], "ended bans are dropped")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("address 2001:db8:1:2::/64 400\n"))
        #expect(text.contains("user alice 200\n"))
        let merged = try file.update(now: 100) { $0[.user("alice")] = nil }
        #expect(merged == [.address("2001:db8:1:2::/64"): 400])
        #expect(BanFile.parse("garbage\naddress x\nuser bob 7\n") == [.user("bob"): 7])
    }

    @Test func banLineFormat() throws {
        let peer = PeerAddress(try SocketAddress(ipAddress: "2001:db8:1:2::7", port: 5))
        let policy = BanPolicy(failures: 5, window: 60, banTime: 120)
        #expect(
            LoginLog.ban(.address(peer.clientKey), peer: peer, policy: policy)
                == "ban address=2001:db8:1:2::7 key=2001:db8:1:2::/64 failures=5 window=60s duration=120s"
        )
        #expect(
            LoginLog.ban(.user("alice"), peer: peer, policy: policy)
                == "ban user=alice address=2001:db8:1:2::7 failures=5 window=60s duration=120s"
        )
    }
}
