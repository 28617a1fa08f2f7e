import MailStore
import NIOCore
import POP3Core
import POP3Server
import POP3TestSupport
import TestTiming
import Testing

@Suite("POP3Server TLS, STLS and hostile input")
struct TLSAndHostileTests {
    @Test func implicitTLSLogin() async throws {
        try await TestServer.with(tls: true) { server in
            let context = try #require(server.ca).clientContext()
            try await POP3LineClient.withConnection(port: try #require(server.tlsPort), tls: context) {
                client async throws in
                #expect(try await client.line().hasPrefix("+OK"))
                #expect(try await client.command("CAPA").hasPrefix("+OK"))
                let capabilities = try await client.multiLineBody()
                #expect(!capabilities.contains("STLS"))
                #expect(capabilities.contains("USER"))
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS secret").hasPrefix("+OK"))
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
            #expect(server.log.lines.contains { $0.hasPrefix("login ok user=alice") && $0.contains("tls=yes") })
        }
    }

    @Test func stlsUpgradeThenCleartextAllowed() async throws {
        try await TestServer.with(tls: true, configure: { $0.cleartextAllowedOnLoopback = false }) { server in
            let context = try #require(server.ca).clientContext()
            try await server.connect { client async throws in
                _ = try await client.line()
                #expect(try await client.command("CAPA").hasPrefix("+OK"))
                let before = try await client.multiLineBody()
                #expect(before.contains("STLS"))
                #expect(!before.contains("USER"), "no cleartext login offered on plaintext non-exempt connections")
                #expect(
                    try await client.command("USER alice")
                        == "-ERR [AUTH] clear text authentication requires TLS, use STLS"
                )
                #expect(try await client.command("STLS") == "+OK Begin TLS negotiation")
                try await client.startTLS(context: context)
                #expect(try await client.command("CAPA").hasPrefix("+OK"))
                let after = try await client.multiLineBody()
                #expect(!after.contains("STLS"))
                #expect(after.contains("USER"))
                #expect(try await client.command("STLS") == "-ERR TLS already active")
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS secret").hasPrefix("+OK"))
                #expect(try await client.command("STLS") == "-ERR not valid after login")
            }
        }
    }

    @Test func stlsFollowedByPipelinedPlaintextCloses() async throws {
        let store = TestMailStore()
        store.add(user: "alice", message: "x\n")
        try await TestServer.with(store: store, tls: true) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                try await client.send("STLS\r\nUSER alice\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n")
                let lines = try await client.readUntilClosed()
                #expect(lines.isEmpty, "nothing after STLS is executed or answered: \(lines)")
            }
            #expect(store.uniqueIDs(user: "alice").count == 1)
        }
    }

    @Test func stlsRefusedWithoutTLSAndSessionGoesOn() async throws {
        try await TestServer.with { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                try await client.send("STLS\r\nNOOP\r\n")
                #expect(try await client.line() == "-ERR STLS not available")
                #expect(try await client.line() == "-ERR not authenticated")
            }
        }
    }

    @Test func overlongLineGetsErrAndSessionGoesOn() async throws {
        try await TestServer.with { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                try await client.send(bytes: [UInt8](repeating: UInt8(ascii: "A"), count: 1_000_000))
                #expect(try await client.line() == "-ERR line too long")
                try await client.send("\r\nCAPA\r\n")
                #expect(try await client.line() == "+OK Capability list follows")
            }
        }
    }

    @Test func nulAndEightBitBytes() async throws {
        try await TestServer.with { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                try await client.send(bytes: Array("USER a".utf8) + [0] + Array("b\r\n".utf8))
                #expect(try await client.line() == "-ERR control character in command")
                try await client.send(bytes: Array("USER ".utf8) + [0xFF, 0xC3] + Array("\r\n".utf8))
                #expect(try await client.line() == "-ERR user name is not valid UTF-8")
                #expect(try await client.command("USER alice") == "+OK send PASS")
            }
        }
    }

    @Test func badMessageNumbers() async throws {
        let store = TestMailStore()
        store.add(user: "alice", message: "x\n")
        try await TestServer.with(store: store) { server in
            try await server.loggedIn { client async throws in
                #expect(try await client.command("TOP 1 2147483648") == "+OK top of message follows")
                #expect(try await client.multiLineBody() == ["x"])
                #expect(try await client.command("TOP 2147483648 1") == "-ERR invalid message number")
                #expect(try await client.command("RETR 0") == "-ERR invalid message number")
                #expect(try await client.command("RETR -1") == "-ERR invalid message number")
                #expect(try await client.command("DELE 2") == "-ERR no such message")
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
        }
    }

    @Test func tenThousandPipelinedNoops() async throws {
        try await TestServer.with(configure: { $0.limits.maximumBadCommands = 5 }) { server in
            try await server.loggedIn { client async throws in
                try await client.send(String(repeating: "NOOP\r\n", count: 10_000) + "QUIT\r\n")
                var count = 0
                while let line = try await client.readLine(), line == "+OK" { count += 1 }
                #expect(count == 10_000)
            }
        }
    }

    @Test func authContinuationFloodIsBounded() async throws {
        try await TestServer.with { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                #expect(try await client.command("AUTH PLAIN") == "+ ")
                // A SASL line over 8 KiB is refused, the exchange ends, the session goes on.
                try await client.send(String(repeating: "QUFB", count: 5000) + "\r\n")
                #expect(try await client.line() == "-ERR authentication aborted: line too long")
                #expect(try await client.command("NOOP") == "-ERR not authenticated")
            }
        }
    }

    @Test func slowlorisIsCutOffByTheIdleTimeout() async throws {
        try await TestServer.with(configure: { $0.limits.idleTimeoutSeconds = 1 }) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                // Trickle bytes without ever ending a line.
                for _ in 0..<6 {
                    try? await client.send("N")
                    try await Task.sleep(for: .milliseconds(300))
                }
                let lines = try await client.readUntilClosed()
                #expect(lines == ["-ERR autologout: idle for too long"])
            }
        }
    }

    @Test func twoHundredConcurrentSessions() async throws {
        let store = TestMailStore()
        var accounts: [String: String] = [:]
        for index in 0..<200 {
            accounts["user\(index)"] = "pw\(index)"
            store.add(user: "user\(index)", message: "Subject: \(index)\n\nhello \(index)\n")
        }
        // 200 sessions from one address: past the per-client cap (50 by default), so it is off here.
        try await TestServer.with(
            store: store,
            accounts: InMemoryAccounts(accounts),
            configure: { $0.maximumConnectionsPerClient = nil }
        ) { server in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        try await server.loggedIn(user: "user\(index)", password: "pw\(index)") { client async throws in
                            guard try await client.command("RETR 1").hasPrefix("+OK") else { return false }
                            let body = try await client.multiLineBody()
                            guard body == ["Subject: \(index)", "", "hello \(index)"] else { return false }
                            return try await client.command("QUIT").hasPrefix("+OK")
                        }
                    }
                }
                var succeeded = 0
                for try await ok in group where ok { succeeded += 1 }
                #expect(succeeded == 200)
            }
        }
    }

    @Test func shutdownClosesIdleSessionsWithoutDeleting() async throws {
        let store = TestMailStore()
        store.add(user: "alice", message: "x\n", uniqueID: "keep")
        try await TestServer.with(store: store, configure: { $0.shutdownGracePeriod = .milliseconds(300) }) { server in
            try await server.loggedIn { client async throws in
                #expect(try await client.command("DELE 1") == "+OK message 1 deleted")
                let start = ContinuousClock.now
                await server.shutdown()
                // The session did not QUIT: it is closed at the deadline, deleting nothing.
                #expect(try await client.readUntilClosed().isEmpty)
                #expect(
                    ContinuousClock.now - start < TestTimeScale.scaled(.seconds(30)),
                    "closed at the 300 ms grace deadline, not the 600 s idle timeout"
                )
            }
            await #expect(throws: (any Error).self) {
                try await server.connect { client async throws in _ = try await client.line() }
            }
        }
        #expect(store.uniqueIDs(user: "alice") == ["keep"])
    }

    /// During the grace period an open session goes on: its QUIT applies its deletions, and
    /// the server stops as soon as the last session has ended, not at the deadline.
    @Test func shutdownLetsOpenSessionsFinish() async throws {
        let store = TestMailStore()
        store.add(user: "alice", message: "x\n", uniqueID: "gone")
        let start = ContinuousClock.now
        // A deadline far beyond what a loaded machine takes for the session itself.
        try await TestServer.with(store: store, configure: { $0.shutdownGracePeriod = .seconds(180) }) { server in
            try await server.loggedIn { client async throws in
                #expect(try await client.command("DELE 1") == "+OK message 1 deleted")
                await server.shutdown()
                #expect(try await client.command("NOOP") == "+OK")
                #expect(try await client.command("QUIT") == "+OK PostOffice POP3 server signing off (maildrop empty)")
            }
        }
        #expect(ContinuousClock.now - start < .seconds(120), "stopped when the session ended, not at the deadline")
        #expect(store.uniqueIDs(user: "alice").isEmpty)
        #expect(store.openAndCloseCounts == (1, 1))
    }
}
