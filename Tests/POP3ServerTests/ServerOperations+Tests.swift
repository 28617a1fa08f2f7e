import MailStore
import MetricsTestKit
import NIOCore
import POP3Core
import POP3Server
import POP3TestSupport
import ServerMetrics
import TestTiming
import Testing

@Suite("POP3Server metrics, reload and admin")
struct ServerOperationsTests {
    @Test func metricsCountSessionsLoginsTransfersAndDeletions() async throws {
        let metrics = TestMetrics()
        let store = TestMailStore()
        store.add(user: "alice", message: "Subject: one\n\nHello\n", uniqueID: "u1")
        store.add(user: "alice", message: "Subject: two\n\nWorld!\n", uniqueID: "u2")
        try await TestServer.with(store: store, configure: { $0.metrics = ServerMetrics(factory: metrics) }) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS wrong").hasPrefix("-ERR"))
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS secret").hasPrefix("+OK"))
                #expect(try await client.command("RETR 1") == "+OK 23 octets")
                _ = try await client.multiLineBody()
                #expect(try await client.command("TOP 2 0").hasPrefix("+OK"))
                _ = try await client.multiLineBody()
                #expect(try await client.command("DELE 1").hasPrefix("+OK"))
                #expect(try await client.command("DELE 2").hasPrefix("+OK"))
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
                #expect(try await client.readLine() == nil)
            }
            try await server.connect { client async throws in
                _ = try await client.line()
                // PLAIN with "\0alice\0nope".
                #expect(try await client.command("AUTH PLAIN AGFsaWNlAG5vcGU=").hasPrefix("-ERR"))
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
            try await Self.waitUntil { server.server.connectionCount == 0 }
        }
        func count(_ descriptor: MetricDescriptor, _ values: [String] = []) throws -> Int64 {
            try metrics.expectCounter(descriptor.name, Array(zip(descriptor.labels, values))).totalValue
        }
        #expect(try count(MetricNames.sessions, ["pop3"]) == 2)
        #expect(try count(MetricNames.sessions, ["pop3s"]) == 0)
        #expect(try metrics.expectMeter(MetricNames.sessionsOpen.name).lastValue == 0)
        #expect(try count(MetricNames.logins, ["success", "USER"]) == 1)
        #expect(try count(MetricNames.logins, ["invalid_credentials", "USER"]) == 1)
        #expect(try count(MetricNames.logins, ["invalid_credentials", "PLAIN"]) == 1)
        #expect(try count(MetricNames.messagesRetrieved) == 1, "TOP is not a retrieval")
        #expect(try count(MetricNames.bytesRetrieved) == 23)
        #expect(try count(MetricNames.messagesDeleted) == 2)
        #expect(try count(MetricNames.bytesDeleted) == 23 + 24)
        let durations = try metrics.expectTimer(MetricNames.loginDuration.name, [("result", "success")])
        #expect(durations.values.count == 1)
        #expect(try metrics.expectTimer(MetricNames.loginDuration.name, [("result", "failure")]).values.count == 2)
    }

    @Test func failureDelaysAreCounted() async throws {
        let metrics = TestMetrics()
        try await TestServer.with(
            configure: {
                $0.metrics = ServerMetrics(factory: metrics)
                $0.authFailureDelay = 0.01
            }
        ) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                _ = try await client.command("USER alice")
                #expect(try await client.command("PASS wrong").hasPrefix("-ERR"))
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
        }
        #expect(try metrics.expectCounter(MetricNames.authFailureDelays.name).totalValue == 1)
    }

    @Test func tlsHandshakesAreCountedBySuccessAndFailure() async throws {
        let metrics = TestMetrics()
        try await TestServer.with(tls: true, configure: { $0.metrics = ServerMetrics(factory: metrics) }) { server in
            let port = try #require(server.tlsPort)
            try await POP3LineClient.withConnection(port: port, tls: try #require(server.ca).clientContext()) {
                client async throws in
                #expect(try await client.line().hasPrefix("+OK"))
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
            // A client trusting another CA aborts the handshake.
            try await POP3LineClient.withConnection(port: port, tls: try TestCertificateAuthority().clientContext()) {
                client async throws in
                #expect(try await client.readLine() == nil)
            }
            // STLS on the plain port.
            try await server.play(
                """
                S: +OK PostOffice POP3 server ready
                C: STLS
                S: +OK Begin TLS negotiation
                !starttls
                C: QUIT
                S: +OK PostOffice POP3 server signing off
                """
            )
            try await Self.waitUntil { server.server.connectionCount == 0 }
        }
        let name = MetricNames.tlsHandshakes.name
        #expect(try metrics.expectCounter(name, [("listener", "pop3s"), ("result", "success")]).totalValue == 1)
        #expect(try metrics.expectCounter(name, [("listener", "pop3s"), ("result", "failure")]).totalValue == 1)
        #expect(try metrics.expectCounter(name, [("listener", "pop3"), ("result", "success")]).totalValue == 1)
    }

    /// SIGHUP's effect: new sessions get the new certificate; one already open goes on.
    @Test func reloadServesNewSessionsWithTheNewCertificateAndKeepsOpenOnes() async throws {
        try await TestServer.with(tls: true) { server in
            let port = try #require(server.tlsPort)
            let oldCA = try #require(server.ca)
            try await POP3LineClient.withConnection(port: port, tls: try oldCA.clientContext()) { open async throws in
                #expect(try await open.line().hasPrefix("+OK"))
                _ = try await open.command("USER alice")
                #expect(try await open.command("PASS secret").hasPrefix("+OK"))

                let newCA = try TestCertificateAuthority()
                let files = try newCA.writeServerFiles()
                var configuration = server.server.configuration
                configuration.tls = .init(certificatePath: files.certificatePath, keyPath: files.keyPath)
                try server.server.reload(configuration)

                try await POP3LineClient.withConnection(port: port, tls: try newCA.clientContext()) {
                    client async throws in
                    #expect(try await client.line().hasPrefix("+OK"), "a new session gets the new certificate")
                    #expect(try await client.command("QUIT").hasPrefix("+OK"))
                }
                try await POP3LineClient.withConnection(port: port, tls: try oldCA.clientContext()) {
                    client async throws in
                    #expect(try await client.readLine() == nil, "the old certificate is no longer served")
                }
                #expect(try await open.command("NOOP") == "+OK", "the open session is not dropped")
                #expect(try await open.command("QUIT").hasPrefix("+OK"))
            }
        }
    }

    @Test func aReloadWithAnUnusableKeyKeepsTheCurrentCertificate() async throws {
        try await TestServer.with(tls: true) { server in
            var configuration = server.server.configuration
            configuration.tls = .init(certificatePath: "/nonexistent/cert.pem", keyPath: "/nonexistent/key.pem")
            #expect(throws: (any Error).self) { try server.server.reload(configuration) }
            let context = try #require(server.ca).clientContext()
            try await POP3LineClient.withConnection(port: try #require(server.tlsPort), tls: context) {
                client async throws in
                #expect(try await client.line().hasPrefix("+OK"))
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
        }
    }

    @Test func sessionsAreListedAndAUsersSessionsCanBeEnded() async throws {
        try await TestServer.with { server in
            try await server.loggedIn { alice async throws in
                try await server.connect { anonymous async throws in
                    _ = try await anonymous.line()
                    let sessions = server.server.sessions()
                    #expect(sessions.count == 2)
                    #expect(sessions.first?.user == "alice")
                    #expect(sessions.first?.peer.ip == "127.0.0.1")
                    #expect(sessions.last?.user == nil)
                    #expect(server.server.closeSessions(user: "bob") == 0)
                    #expect(server.server.closeSessions(user: "alice") == 1)
                    #expect(try await alice.readLine() == nil, "alice's connection is closed")
                    #expect(try await anonymous.command("NOOP").hasPrefix("-ERR"), "the other session goes on")
                }
            }
            try await Self.waitUntil { !server.store.isLocked(user: "alice") }
        }
    }

    static func waitUntil(_ condition: () -> Bool) async throws {
        #expect(await eventually(condition))
    }
}
