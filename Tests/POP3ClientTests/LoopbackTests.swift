// The client against a scripted server on 127.0.0.1.

import MailCore
import NIOCore
import POP3Client
import POP3Core
import POP3TestSupport
import SASL
import TestTiming
import Testing

@Suite("Client over loopback")
struct LoopbackTests {
    /// Bodies that stress unstuffing: leading dots, a lone dot line, bare LF and CR, NUL, 8-bit,
    /// a long line, and a message without a final line end.
    static let tricky: [[UInt8]] = [
        Array("Subject: a\r\n\r\n.hidden\r\n.\r\n..two\r\nend\r\n".utf8),
        [0, 0xFF, 0x80, 10, 46, 13, 46, 46, 13, 10, 13, 10],
        Array(String(repeating: "long line ", count: 5000).utf8) + [13, 10],
        Array("no final newline".utf8),
    ]

    @Test func loginListUIDLRetrieveDeleteQuit() async throws {
        let fake = FakePOP3(messages: Self.tricky)
        let server = try await ScriptedServer { peer in try await fake.serve(peer) }
        defer { server.stop() }
        let collector = ClientTest.Collector()
        try await POP3Connection.withConnection(
            configuration: ClientTest.configuration(port: server.port),
            credentials: .userPass(user: "alice", password: "secret"),
            logger: ClientTest.logger
        ) { connection in
            #expect(connection.supportsUIDL)
            #expect(!connection.supportsPipelining)
            let stat = try await connection.stat()
            #expect(stat.count == 4)
            #expect(stat.size == Self.tricky.reduce(0) { $0 + $1.count })
            #expect(
                try await connection.list()
                    == Self.tricky.enumerated().map { POP3ListEntry(number: $0.offset + 1, size: $0.element.count) }
            )
            #expect(try await connection.uidl().map(\.uniqueID) == ["uid-1", "uid-2", "uid-3", "uid-4"])
            try await connection.retrieve([1, 2, 3, 4]) { collector.handle($0) }
            try await connection.delete([1, 2])
            try await connection.noop()
            try await connection.quit()
        }
        try await server.finish()
        #expect(collector.order == ["begin 1", "end 1", "begin 2", "end 2", "begin 3", "end 3", "begin 4", "end 4"])
        for (index, message) in Self.tricky.enumerated() {
            let expected = index == 3 ? message + [13, 10] : message
            #expect(collector.messages[index + 1] == expected, "message \(index + 1)")
        }
    }

    @Test(arguments: [true, false])
    func pipeliningPaysLatencyPerWindow(_ pipelining: Bool) async throws {
        var fake = FakePOP3(messages: (1...100).map { Array("Subject: \($0)\r\n\r\nbody \($0)\r\n".utf8) })
        if pipelining { fake.capabilities.append("PIPELINING") }
        let server = try await ScriptedServer { [fake] peer in try await fake.serve(peer) }
        defer { server.stop() }
        var configuration = ClientTest.configuration(port: server.port)
        configuration.pipelineWindow = 32
        try await POP3Connection.withConnection(
            configuration: configuration,
            credentials: .userPass(user: "alice", password: "secret"),
            logger: ClientTest.logger
        ) { connection in
            #expect(connection.supportsPipelining == pipelining)
            let collector = ClientTest.Collector()
            let before = connection.roundTrips
            try await connection.retrieve(Array(1...100)) { collector.handle($0) }
            let retrieveTrips = connection.roundTrips - before
            let deleteStart = connection.roundTrips
            try await connection.delete(Array(1...100))
            let deleteTrips = connection.roundTrips - deleteStart
            if pipelining {
                #expect(retrieveTrips <= 4 + 1)  // ceil(100 / 32) + a constant
                #expect(deleteTrips <= 4 + 1)
            } else {
                #expect(retrieveTrips == 100)
                #expect(deleteTrips == 100)
            }
            #expect(collector.messages.count == 100)
            #expect(collector.messages[57] == Array("Subject: 57\r\n\r\nbody 57\r\n".utf8))
            try await connection.quit()
        }
        try await server.finish()
    }

    @Test func deleteReadsAllRepliesThenThrowsTheFirstError() async throws {
        var fake = FakePOP3(messages: [Array("a\r\n".utf8), Array("b\r\n".utf8)])
        fake.capabilities.append("PIPELINING")
        let server = try await ScriptedServer { [fake] peer in try await fake.serve(peer) }
        defer { server.stop() }
        try await POP3Connection.withConnection(
            configuration: ClientTest.configuration(port: server.port),
            credentials: .userPass(user: "alice", password: "secret"),
            logger: ClientTest.logger
        ) { connection in
            let error = await ClientTest.expectError { try await connection.delete([1, 7, 2]) }
            #expect(error?.kind == .serverError)
            // The connection stays usable: every reply was read.
            #expect(try await connection.stat().count == 2)
            try await connection.quit()
        }
        try await server.finish()
    }

    @Test func wrongPasswordIsAnAuthenticationError() async throws {
        let fake = FakePOP3()
        let server = try await ScriptedServer { peer in try await fake.serve(peer) }
        defer { server.stop() }
        let error = await ClientTest.sessionError(port: server.port, password: "wrong")
        #expect(error?.kind == .authentication)
        #expect(error?.responseCode == "AUTH")
    }

    @Test func mailboxInUse() async throws {
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("-ERR no CAPA here\r\n")
            try await peer.expect("USER alice")
            try await peer.send("+OK\r\n")
            try await peer.expect("PASS secret")
            try await peer.send("-ERR [IN-USE] maildrop locked\r\n")
            try await peer.drainUntilClosed()
        }
        defer { server.stop() }
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port),
                credentials: .automatic(user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .inUse)
        #expect(error?.responseCode == "IN-USE")
        try await server.finish()
    }

    @Test func apopSendsTheRFCDigest() async throws {
        // RFC 1939 §7's example: timestamp and secret "tanstaaf".
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n")
            try await peer.expect("CAPA")
            try await peer.send("-ERR\r\n")
            try await peer.expect("APOP mrose c4c9334bac560ecc979e58001b3e22fb")
            try await peer.send("+OK mrose's maildrop has 0 messages\r\n")
            try await peer.expect("QUIT")
            try await peer.send("+OK\r\n")
        }
        defer { server.stop() }
        try await POP3Connection.withConnection(
            configuration: ClientTest.configuration(port: server.port),
            credentials: .apop(user: "mrose", password: "tanstaaf"),
            logger: ClientTest.logger
        ) { connection in
            try await connection.quit()
        }
        try await server.finish()
    }

    @Test func saslPlainWithInitialResponse() async throws {
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n")
            try await peer.expect("AUTH PLAIN AGFsaWNlAHNlY3JldA==")
            try await peer.send("+OK welcome\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nUIDL\r\n.\r\n")
            try await peer.expect("QUIT")
            try await peer.send("+OK\r\n")
        }
        defer { server.stop() }
        try await POP3Connection.withConnection(
            configuration: ClientTest.configuration(port: server.port),
            credentials: .automatic(user: "alice", password: "secret"),
            logger: ClientTest.logger
        ) { connection in
            #expect(connection.capabilities == [.uidl])
            try await connection.quit()
        }
        try await server.finish()
    }

    @Test func malformedSASLChallengeIsAProtocolViolation() async throws {
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nSASL LOGIN PLAIN\r\n.\r\n")
            _ = try await peer.readLine()
            try await peer.send("+ not*base64!\r\n")
            try await peer.drainUntilClosed()
        }
        defer { server.stop() }
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port),
                credentials: .sasl(mechanism: .plain, user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .protocolViolation)
        try await server.finish()
    }

    @Test func overlongStatusLineIsAProtocolViolation() async throws {
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK " + String(repeating: "x", count: 20_000) + "\r\n")
            try await peer.drainUntilClosed()
        }
        defer { server.stop() }
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port),
                credentials: .userPass(user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .protocolViolation)
        try await server.finish()
    }

    @Test(
        "a UIDL reply with an id that breaks RFC 1939 §7 is a protocol violation",
        arguments: [String(repeating: "x", count: 71), "del\u{7F}", "caf\u{E9}"]
    )
    func invalidUniqueIDIsAProtocolViolation(id: String) async throws {
        var fake = FakePOP3()
        fake.messages = [Array("Subject: 1\r\n\r\n".utf8), Array("Subject: 2\r\n\r\n".utf8)]
        fake.uniqueIDs = ["fine", id]
        let server = try await ScriptedServer { [fake] peer in try await fake.serve(peer) }
        defer { server.stop() }
        let error = await ClientTest.sessionError(port: server.port) { _ = try await $0.uidl() }
        #expect(error?.kind == .protocolViolation)
        try await server.finish()
    }

    @Test func serverVanishingMidRetrieveKeepsTheBytesSoFar() async throws {
        let partial = Array("Subject: cut\r\n\r\nfirst line\r\n..second\r\nthird, cut off he".utf8)
        let server = try await ScriptedServer { peer in
            var fake = FakePOP3()
            fake.capabilities = []
            try await peer.send(fake.greeting + "\r\n")
            try await peer.expect("CAPA")
            try await peer.send("-ERR\r\n")
            try await peer.expect("USER alice")
            try await peer.send("+OK\r\n")
            try await peer.expect("PASS secret")
            try await peer.send("+OK\r\n")
            try await peer.expect("RETR 1")
            try await peer.send(bytes: Array("+OK\r\n".utf8) + partial)
            // and vanish
        }
        defer { server.stop() }
        let collector = ClientTest.Collector()
        let start = ContinuousClock.now
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port, timeout: TestTimeScale.scaled(.seconds(60))),
                credentials: .userPass(user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { connection in
                try await connection.retrieve([1]) { collector.handle($0) }
            }
        }
        #expect(
            ContinuousClock.now - start < TestTimeScale.scaled(.seconds(30)),
            "ended by the close, not the 60 s command timeout"
        )
        #expect(error?.kind == .network)
        #expect(collector.order == ["begin 1"])
        #expect(collector.messages[1] == Array("Subject: cut\r\n\r\nfirst line\r\n.second\r\nthird, cut off he".utf8))
        try await server.finish()
    }

    @Test func silentServerTimesOut() async throws {
        let server = try await ScriptedServer { peer in try await peer.drainUntilClosed() }
        defer { server.stop() }
        let start = ContinuousClock.now
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port, timeout: .milliseconds(300)),
                credentials: .userPass(user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .timeout)
        #expect(
            ContinuousClock.now - start < TestTimeScale.scaled(.seconds(30)),
            "the configured 300 ms timeout ended it, not a hang"
        )
        try await server.finish()
    }

    /// The login of `FakePOP3` with PIPELINING announced, played by a script.
    static func pipeliningLogin(_ peer: ScriptedPeer) async throws {
        try await peer.send(FakePOP3().greeting + "\r\n")
        for step in ["CAPA", "USER alice", "PASS secret", "CAPA"] {
            try await peer.expect(step)
            try await peer.send(step == "CAPA" ? "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n" : "+OK\r\n")
        }
    }

    static func reply(_ number: Int) -> String {
        "+OK\r\nSubject: \(number)\r\n\r\nbody \(number)\r\n.\r\n"
    }

    /// Logs in as alice to `server` with the test configuration changed by `configure`, runs
    /// `body`, then waits for the server's script to end.
    static func withClient(
        of server: ScriptedServer,
        _ configure: (inout POP3ClientConfiguration) -> Void,
        _ body: (POP3Connection) async throws -> Void
    ) async throws {
        var configuration = ClientTest.configuration(port: server.port)
        configure(&configuration)
        try await POP3Connection.withConnection(
            configuration: configuration,
            credentials: .userPass(user: "alice", password: "secret"),
            logger: ClientTest.logger,
            body
        )
        try await server.finish()
    }

    @Test func pipelineIsToppedUpWhileRepliesArrive() async throws {
        // Window 4: RETR 1-4 go out at once; once two are answered, two more go out while the
        // other replies are still owed, so the server never waits for the client's next command.
        let server = try await ScriptedServer { peer in
            try await Self.pipeliningLogin(peer)
            for number in 1...4 { try await peer.expect("RETR \(number)") }
            #expect(!peer.hasBufferedLine, "no more than the window before a reply")
            try await peer.send(Self.reply(1) + Self.reply(2))
            for number in 5...6 { try await peer.expect("RETR \(number)") }
            try await peer.send(Self.reply(3) + Self.reply(4))
            try await peer.expect("RETR 7")
            try await peer.send(Self.reply(5) + Self.reply(6) + Self.reply(7))
            try await peer.expect("QUIT")
            try await peer.send("+OK bye\r\n")
        }
        defer { server.stop() }
        let collector = ClientTest.Collector()
        try await Self.withClient(of: server, { $0.pipelineWindow = 4 }) { connection in
            let before = connection.roundTrips
            try await connection.retrieve(Array(1...7)) { collector.handle($0) }
            #expect(connection.roundTrips - before == 1, "one wait for the first reply; top-ups cost none")
            try await connection.quit()
        }
        #expect(collector.messages.count == 7)
        #expect(collector.messages[7] == Array("Subject: 7\r\n\r\nbody 7\r\n".utf8))
    }

    @Test func listedSizesPaceThePipelineAndAStopSendsNoMore() async throws {
        // 250 octets of replies in flight at most: two messages of 100 listed octets, then a third
        // once one is answered. After the third the caller stops: the outstanding replies are
        // read, and the next command is the caller's own.
        let server = try await ScriptedServer { peer in
            try await Self.pipeliningLogin(peer)
            try await peer.expect("RETR 1")
            try await peer.expect("RETR 2")
            #expect(!peer.hasBufferedLine, "a third would exceed the octets in flight")
            try await peer.send(Self.reply(1))
            try await peer.expect("RETR 3")
            try await peer.send(Self.reply(2) + Self.reply(3))
            try await peer.expect("QUIT")
            try await peer.send("+OK bye\r\n")
        }
        defer { server.stop() }
        let collector = ClientTest.Collector()
        try await Self.withClient(of: server, { $0.pipelineBytes = 250 }) { connection in
            var asked = 0
            try await connection.retrieve(
                (1...6).map { POP3ListEntry(number: $0, size: 100) },
                sendingWhile: {
                    asked += 1
                    return asked <= 2
                }
            ) { collector.handle($0) }
            try await connection.quit()
        }
        #expect(collector.order == ["begin 1", "end 1", "begin 2", "end 2", "begin 3", "end 3"])
    }

    // The login steps must finish inside the same timeout, so it is generous enough for a
    // loaded machine; only the stalled RETR may run into it.
    @Test func retrieveStallsTimeOutPerChunk() async throws {
        let server = try await ScriptedServer { peer in
            var fake = FakePOP3()
            fake.capabilities = ["USER"]
            try await peer.send(fake.greeting + "\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nUSER\r\n.\r\n")
            try await peer.expect("USER alice")
            try await peer.send("+OK\r\n")
            try await peer.expect("PASS secret")
            try await peer.send("+OK\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nUSER\r\n.\r\n")
            try await peer.expect("RETR 1")
            try await peer.send("+OK\r\nsome bytes\r\n")
            try await peer.drainUntilClosed()
        }
        defer { server.stop() }
        let collector = ClientTest.Collector()
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port, timeout: TestTimeScale.scaled(.seconds(5))),
                credentials: .userPass(user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { connection in
                try await connection.retrieve([1]) { collector.handle($0) }
            }
        }
        #expect(error?.kind == .timeout)
        #expect(collector.messages[1] == Array("some bytes\r\n".utf8))
        try await server.finish()
    }
}

@Suite("Client SASL over loopback")
struct SASLLoopbackTests {
    @Test func xoauth2SendsTheTokenOnAContinuationLine() async throws {
        let expected = Base64.encode(Array("user=alice@example.org\u{1}auth=Bearer ya29.token\u{1}\u{1}".utf8))
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nSASL XOAUTH2 OAUTHBEARER\r\n.\r\n")
            try await peer.expect("AUTH XOAUTH2")
            try await peer.send("+ \r\n")
            try await peer.expect(expected)
            try await peer.send("+OK welcome\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nUIDL\r\n.\r\n")
            try await peer.expect("QUIT")
            try await peer.send("+OK\r\n")
        }
        defer { server.stop() }
        try await POP3Connection.withConnection(
            configuration: ClientTest.configuration(port: server.port),
            credentials: .oauth(mechanism: .xoauth2, user: "alice@example.org", token: "ya29.token"),
            logger: ClientTest.logger
        ) { connection in
            try await connection.quit()
        }
        try await server.finish()
    }

    @Test func oauthBearerErrorIsAcknowledgedThenAnAuthenticationError() async throws {
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nSASL OAUTHBEARER\r\n.\r\n")
            try await peer.expect("AUTH OAUTHBEARER")
            try await peer.send("+ \r\n")
            let token = try await peer.readLine()
            #expect(
                token.flatMap { Base64.decode(bytes: $0.utf8) }.map { String(decoding: $0, as: UTF8.self) }
                    == "n,a=alice,\u{1}auth=Bearer expired\u{1}\u{1}"
            )
            try await peer.send("+ " + Base64.encode(Array(#"{"status":"invalid_token"}"#.utf8)) + "\r\n")
            try await peer.expect("AQ==")  // RFC 7628 §3.2.3: a single %x01
            try await peer.send("-ERR [AUTH] token expired\r\n")
            try await peer.drainUntilClosed()
        }
        defer { server.stop() }
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port),
                credentials: .oauth(mechanism: .oauthBearer, user: "alice", token: "expired"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .authentication)
        #expect(error?.responseCode == "AUTH")
        try await server.finish()
    }

    /// A server asking for 10,000,000 SCRAM iterations (RFC 5802 §5.1 `i`) would burn the
    /// client's CPU for many seconds: refused at once, as an authentication failure.
    @Test(arguments: [(10_000_000, nil), (4096, 1000)] as [(Int, Int?)])
    func scramIterationsAboveTheCapAreAnAuthenticationError(iterations: Int, cap: Int?) async throws {
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nSASL SCRAM-SHA-256\r\n.\r\n")
            let auth = try #require(try await peer.readLine())
            let initial = try #require(auth.split(separator: " ").last.flatMap { Base64.decode(bytes: $0.utf8) })
            let nonce = try #require(String(decoding: initial, as: UTF8.self).split(separator: "=").last)
            let first = "r=\(nonce)server,s=" + Base64.encode([1, 2, 3, 4]) + ",i=\(iterations)"
            try await peer.send("+ " + Base64.encode(Array(first.utf8)) + "\r\n")
            try await peer.drainUntilClosed()
        }
        defer { server.stop() }
        var configuration = ClientTest.configuration(port: server.port)
        if let cap { configuration.scramMaximumIterations = cap }
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: configuration,
                credentials: .sasl(mechanism: .scramSHA256, user: "alice", password: "x"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .authentication)
        #expect(error?.message.contains("\(iterations)") == true)
        // The refusal names the cap: it came before any key derivation (no timing asserted;
        // a loaded machine makes wall-clock bounds flaky).
        #expect(error?.message.contains("scram_max_iterations") == true)
        try await server.finish()
    }

    @Test func mechanismNotOfferedIsUnsupported() async throws {
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("+OK\r\nSASL PLAIN\r\n.\r\n")
            #expect(try await peer.readLine() == nil)
        }
        defer { server.stop() }
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port),
                credentials: .sasl(mechanism: .scramSHA256, user: "alice", password: "x"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .unsupported)
        try await server.finish()
    }
}

@Suite("Client cancellation")
struct CancellationTests {
    @Test func cancellingAWaitingRetrieveEndsItPromptly() async throws {
        // The cancel comes only once the server has the RETR, so the test does not depend on
        // how fast a loaded machine gets through the login.
        let (retrieving, retrievingContinuation) = AsyncStream.makeStream(of: Void.self)
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("-ERR\r\n")
            try await peer.expect("USER alice")
            try await peer.send("+OK\r\n")
            try await peer.expect("PASS secret")
            try await peer.send("+OK\r\n")
            try await peer.expect("RETR 1")
            try await peer.send("+OK\r\npartial\r\n")
            retrievingContinuation.yield()
            try await peer.drainUntilClosed()
        }
        defer { server.stop() }
        let task = Task {
            try await POP3Connection.withConnection(
                configuration: ClientTest.configuration(port: server.port, timeout: TestTimeScale.scaled(.seconds(60))),
                credentials: .userPass(user: "alice", password: "secret"),
                logger: ClientTest.logger
            ) { connection in
                try await connection.retrieve([1]) { _ in }
            }
        }
        for await _ in retrieving { break }
        try await Task.sleep(for: .milliseconds(100))
        let cancelled = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        // The command timeout is 60 s: ending well before it shows the cancel ended the wait.
        #expect(ContinuousClock.now - cancelled < TestTimeScale.scaled(.seconds(30)))
        try await server.finish()
    }
}

@Suite("Client misuse")
struct MisuseTests {
    @Test func overlappingCallsAreRefusedNotInterleaved() async throws {
        let fake = FakePOP3(messages: [Array("Subject: slow\r\n\r\nbody\r\n".utf8)])
        let server = try await ScriptedServer { peer in try await fake.serve(peer) }
        defer { server.stop() }
        try await POP3Connection.withConnection(
            configuration: ClientTest.configuration(port: server.port),
            credentials: .userPass(user: "alice", password: "secret"),
            logger: ClientTest.logger
        ) { connection in
            let (stream, started) = AsyncStream.makeStream(of: Void.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await connection.retrieve([1]) { event in
                        if case .begin = event { started.yield() }
                        try await Task.sleep(for: .milliseconds(300))
                    }
                }
                for await _ in stream { break }
                let error = await ClientTest.expectError { try await connection.noop() }
                #expect(error?.kind == .unsupported)
                try await group.waitForAll()
            }
            // After the first call finished the connection is fine.
            try await connection.noop()
            try await connection.quit()
        }
        try await server.finish()
    }
}
