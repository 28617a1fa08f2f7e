import Accounts
import Foundation
import POP3Core
import POP3Server
import POP3TestSupport
import Testing

/// RFC 2449 §6.7 EXPIRE and §6.5 LOGIN-DELAY over loopback: the site's settings and an account's
/// own (passwd-file extra fields), enforced.
@Suite("Retention: EXPIRE and LOGIN-DELAY enforced")
struct RetentionTests {
    private static let day = 24 * 60 * 60

    private static func capabilities(_ client: POP3LineClient) async throws -> [String] {
        #expect(try await client.command("CAPA") == "+OK Capability list follows")
        return try await client.multiLineBody().filter { $0.hasPrefix("EXPIRE") || $0.hasPrefix("LOGIN-DELAY") }
    }

    @Test("messages past the period that the session retrieved are deleted at QUIT; others stay")
    func expiredAtQuit() async throws {
        let now = Int(Date().timeIntervalSince1970)
        let store = TestMailStore()
        store.add(user: "alice", message: "Subject: old\n\n1\n", uniqueID: "old", arrival: now - 40 * Self.day)
        store.add(user: "alice", message: "Subject: recent\n\n2\n", uniqueID: "recent", arrival: now - Self.day)
        store.add(user: "alice", message: "Subject: unknown\n\n3\n", uniqueID: "unknown")
        store.add(
            user: "alice",
            message: "Subject: old, not read\n\n4\n",
            uniqueID: "unread",
            arrival: now - 90 * Self.day
        )
        try await TestServer.with(store: store, configure: { $0.expiry = .days(30) }) { server in
            try await server.loggedIn { client async throws in
                #expect(try await Self.capabilities(client) == ["EXPIRE 30"])
                for number in 1...3 {
                    #expect(try await client.command("RETR \(number)").hasPrefix("+OK"))
                    _ = try await client.multiLineBody()
                }
                #expect(try await client.command("TOP 4 0").hasPrefix("+OK"))
                _ = try await client.multiLineBody()
                #expect(try await client.command("QUIT") == "+OK PostOffice POP3 server signing off (3 messages left)")
            }
            #expect(store.uniqueIDs(user: "alice") == ["recent", "unknown", "unread"])
            try await ServerOperationsTests.waitUntil {
                server.log.lines.contains { $0.hasPrefix("logout user=alice retrieved=3 deleted=1 ") }
            }
            #expect(server.log.lines.contains { $0.hasPrefix("logout user=alice") && $0.hasSuffix(" expired=1") })
        }
    }

    @Test("a session that does not QUIT expires nothing (RFC 1939 §6)")
    func droppedSession() async throws {
        let store = TestMailStore()
        store.add(user: "alice", message: "a\n", uniqueID: "old", arrival: 1)
        try await TestServer.with(store: store, configure: { $0.expiry = .days(1) }) { server in
            try await server.loggedIn { client async throws in
                #expect(try await client.command("RETR 1").hasPrefix("+OK"))
                _ = try await client.multiLineBody()
            }
            try await ServerOperationsTests.waitUntil { !store.isLocked(user: "alice") }
            #expect(store.uniqueIDs(user: "alice") == ["old"])
        }
    }

    @Test("per account: expire_days=0 deletes what was retrieved; CAPA says EXPIRE 0 USER before login")
    func perAccountExpiry() async throws {
        let store = TestMailStore()
        for user in ["alice", "bob"] {
            store.add(user: user, message: "a\n", uniqueID: "\(user)-1", arrival: Int(Date().timeIntervalSince1970))
            store.add(user: user, message: "b\n", uniqueID: "\(user)-2")
        }
        let accounts = InMemoryAccounts(
            ["alice": "secret", "bob": "hunter2"],
            settings: ["bob": AccountSettings(expiry: .days(0))]
        )
        try await TestServer.with(store: store, accounts: accounts) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                #expect(try await Self.capabilities(client) == ["EXPIRE 0 USER"])
            }
            try await server.loggedIn(user: "bob", password: "hunter2") { client async throws in
                #expect(try await Self.capabilities(client) == ["EXPIRE 0"])
                for number in 1...2 {
                    #expect(try await client.command("RETR \(number)").hasPrefix("+OK"))
                    _ = try await client.multiLineBody()
                }
                #expect(try await client.command("QUIT") == "+OK PostOffice POP3 server signing off (maildrop empty)")
            }
            try await server.loggedIn { client async throws in
                #expect(try await Self.capabilities(client) == ["EXPIRE NEVER"])
                #expect(try await client.command("RETR 1").hasPrefix("+OK"))
                _ = try await client.multiLineBody()
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
            #expect(store.uniqueIDs(user: "bob").isEmpty)
            #expect(store.uniqueIDs(user: "alice") == ["alice-1", "alice-2"])
        }
    }

    @Test("a login sooner than the delay after the last is refused with [LOGIN-DELAY], before the maildrop opens")
    func loginDelay() async throws {
        try await TestFilesDirectory.with { directory in
            let path = directory + "/" + LoginHistory.fileName
            let store = TestMailStore()
            try await TestServer.with(
                store: store,
                configure: {
                    $0.loginDelaySeconds = 600
                    $0.loginHistory = LoginHistory(path: path)
                }
            ) { server in
                try await server.loggedIn { client async throws in
                    #expect(try await Self.capabilities(client) == ["LOGIN-DELAY 600"])
                    _ = try await client.command("QUIT")
                }
                let opens = store.openAndCloseCounts.opens
                try await server.connect { client async throws in
                    _ = try await client.line()
                    _ = try await client.command("USER alice")
                    let refused = try await client.command("PASS secret")
                    #expect(refused.hasPrefix("-ERR [LOGIN-DELAY] logged in too recently, try again in "), "\(refused)")
                    #expect(store.openAndCloseCounts.opens == opens, "the maildrop was not opened")
                    // Another account is not held back.
                    _ = try await client.command("USER bob")
                    #expect(try await client.command("PASS hunter2").hasPrefix("+OK"))
                }
                #expect(server.log.lines.contains { $0.hasPrefix("login delayed user=alice peer=127.0.0.1:") })
                // The login is on disk: a restarted server still holds alice back.
                let reread = LoginHistory(path: path)
                #expect(
                    await reread.secondsToWait(user: "alice", delay: 600, now: Int(Date().timeIntervalSince1970)) != nil
                )
            }
        }
    }

    @Test("a login is allowed again once the delay has passed since the last")
    func loginDelayPassed() async throws {
        let history = LoginHistory(path: nil)
        let now = Int(Date().timeIntervalSince1970)
        // A delay of ten minutes, so however slow the machine (a sanitizer build), bob's is
        // still running when he tries again.
        try await history.record(user: "alice", at: now - 601, horizon: 600)
        try await history.record(user: "bob", at: now - 5, horizon: 600)
        try await TestServer.with(configure: {
            $0.loginDelaySeconds = 600
            $0.loginHistory = history
        }) { server in
            try await server.loggedIn { client async throws in
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
            try await server.connect { client async throws in
                _ = try await client.line()
                _ = try await client.command("USER bob")
                let refused = try await client.command("PASS hunter2")
                let prefix = "-ERR [LOGIN-DELAY] logged in too recently, try again in "
                #expect(refused.hasPrefix(prefix), "\(refused)")
                // bob logged in 5 seconds before the test began: at most 595 seconds to go, less the
                // time since (no lower bound beyond 1: a loaded machine may take a while to get here).
                let seconds = Int(refused.dropFirst(prefix.count).prefix { $0.isNumber }) ?? -1
                #expect((1...595).contains(seconds), "\(refused)")
            }
        }
    }

    @Test("per account: login_delay=N overrides the site's; CAPA says the largest with USER before login")
    func perAccountLoginDelay() async throws {
        let accounts = InMemoryAccounts(
            ["alice": "secret", "bob": "hunter2"],
            settings: ["alice": AccountSettings(loginDelaySeconds: 3600)]
        )
        try await TestServer.with(accounts: accounts, configure: { $0.loginDelaySeconds = 0 }) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                #expect(try await Self.capabilities(client) == ["LOGIN-DELAY 3600 USER"])
            }
            for _ in 0..<2 {
                try await server.loggedIn(user: "bob", password: "hunter2") { client async throws in
                    #expect(try await Self.capabilities(client) == ["LOGIN-DELAY 0"])
                    _ = try await client.command("QUIT")
                }
            }
            try await server.loggedIn { client async throws in
                #expect(try await Self.capabilities(client) == ["LOGIN-DELAY 3600"])
                _ = try await client.command("QUIT")
            }
            try await server.connect { client async throws in
                _ = try await client.line()
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS secret").hasPrefix("-ERR [LOGIN-DELAY] "))
            }
        }
    }
}

/// A temporary directory for one test (Foundation is fine in tests of the server).
enum TestFilesDirectory {
    static func with<Result>(_ body: (String) async throws -> Result) async throws -> Result {
        let path = NSTemporaryDirectory() + "postoffice-retention-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }
}
