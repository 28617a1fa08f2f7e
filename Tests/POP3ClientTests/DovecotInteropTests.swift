// The client against Dovecot's POP3 server (Debian dovecot-pop3d) on loopback.

import Logging
import POP3Client
import POP3Core
import SASL
import Testing

@Suite("Interop with Dovecot", .serialized)
struct DovecotInteropTests {
    /// Maildir files (LF line ends): dot lines, 8-bit text, a long line, no final newline.
    static let messages: [[UInt8]] = [
        Array("From: a@example.org\nSubject: one\n\n.leading dot\n.\n..two dots\nend\n".utf8),
        Array("Subject: =?utf-8?q?caf=C3=A9?=\n\ncafé naïve ünïcödé\n".utf8) + [0xE9, 0xFF, 10],
        Array("Subject: long\n\n".utf8) + Array(String(repeating: "0123456789", count: 20_000).utf8) + [10],
        Array("Subject: no newline\n\nlast line without newline".utf8),
    ]

    /// What a POP3 server sends for a Maildir file: CRLF line ends, a final line end.
    static func onTheWire(_ file: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for byte in file {
            if byte == 10 { out.append(13) }
            out.append(byte)
        }
        if out.last != 10 { out += [13, 10] }
        return out
    }

    private func configuration(_ rig: DovecotRig, security: POP3ClientConfiguration.Security) -> POP3ClientConfiguration
    {
        var configuration = POP3ClientConfiguration(
            host: "127.0.0.1",
            port: security == .implicitTLS ? rig.tlsPort : rig.port,
            security: security,
            trust: .caFile(rig.caFile)
        )
        configuration.serverName = "localhost"
        configuration.commandTimeout = .seconds(20)
        return configuration
    }

    @Test func plaintextUserPassListUIDLRetrieveDeleteQuit() async throws {
        let rig = try DovecotRig(users: ["alice": "secret"], mail: ["alice": Self.messages])
        defer { rig.stop() }
        let collector = ClientTest.Collector()
        var uidls: [POP3UIDLEntry] = []
        try await POP3Connection.withConnection(
            configuration: self.configuration(rig, security: .plaintext),
            credentials: .userPass(user: "alice", password: "secret"),
            logger: ClientTest.logger
        ) { connection in
            #expect(connection.supportsPipelining)
            #expect(connection.supportsUIDL)
            let stat = try await connection.stat()
            #expect(stat.count == Self.messages.count)
            let list = try await connection.list()
            #expect(list.map(\.size) == Self.messages.map { Self.onTheWire($0).count - ($0.last == 10 ? 0 : 2) })
            uidls = try await connection.uidl()
            #expect(uidls.map(\.number) == [1, 2, 3, 4])
            #expect(Set(uidls.map(\.uniqueID)).count == 4)
            try await connection.retrieve([1, 2, 3, 4]) { collector.handle($0) }
            try await connection.delete([1, 3])
            try await connection.quit()
        }
        for (index, message) in Self.messages.enumerated() {
            #expect(collector.messages[index + 1] == Self.onTheWire(message), "message \(index + 1)")
        }
        // QUIT committed the deletions: two messages are left, and their UIDLs are unchanged.
        #expect(try rig.messageFiles(of: "alice").count == 2)
        try await POP3Connection.withConnection(
            configuration: self.configuration(rig, security: .plaintext),
            credentials: .userPass(user: "alice", password: "secret"),
            logger: ClientTest.logger
        ) { connection in
            let left = try await connection.uidl()
            #expect(left.map(\.uniqueID) == [uidls[1].uniqueID, uidls[3].uniqueID])
            try await connection.quit()
        }
    }

    @Test func startTLSWithSASLPlain() async throws {
        let rig = try DovecotRig(users: ["bob": "pa ss wörd"], mail: ["bob": Self.messages])
        defer { rig.stop() }
        let collector = ClientTest.Collector()
        try await POP3Connection.withConnection(
            configuration: self.configuration(rig, security: .startTLS),
            credentials: .sasl(mechanism: .plain, user: "bob", password: "pa ss wörd"),
            logger: ClientTest.logger
        ) { connection in
            // After STLS the capabilities were asked again: no STLS offered inside TLS.
            #expect(!connection.capabilities.contains(.stls))
            try await connection.top(1, lines: 1) { collector.handle($0) }
            try await connection.quit()
        }
        #expect(collector.messages[1] == Array("From: a@example.org\r\nSubject: one\r\n\r\n.leading dot\r\n".utf8))
    }

    @Test func implicitTLSWithPipelinedWindows() async throws {
        let many = (1...70).map { Array("Subject: message \($0)\n\nbody \($0)\n".utf8) }
        let rig = try DovecotRig(users: ["carol": "secret"], mail: ["carol": many])
        defer { rig.stop() }
        let collector = ClientTest.Collector()
        var configuration = self.configuration(rig, security: .implicitTLS)
        configuration.pipelineWindow = 32
        try await POP3Connection.withConnection(
            configuration: configuration,
            credentials: .userPass(user: "carol", password: "secret"),
            logger: ClientTest.logger
        ) { connection in
            let before = connection.roundTrips
            try await connection.retrieve(Array(1...70)) { collector.handle($0) }
            // Windows of 32, topped up as replies arrive: one wait, not ceil(70 / 32).
            #expect(connection.roundTrips - before == 1)
            try await connection.quit()
        }
        #expect(collector.messages.count == 70)
        #expect(collector.messages[70] == Self.onTheWire(many[69]))
    }

    @Test func wrongPasswordIsRefused() async throws {
        let rig = try DovecotRig(users: ["dave": "secret"], mail: [:])
        defer { rig.stop() }
        let error = await ClientTest.expectError {
            try await POP3Connection.withConnection(
                configuration: self.configuration(rig, security: .startTLS),
                credentials: .userPass(user: "dave", password: "wrong"),
                logger: ClientTest.logger
            ) { _ in }
        }
        #expect(error?.kind == .authentication)
        #expect(error?.responseCode == "AUTH")
    }
}

extension DovecotInteropTests {
    @Test(arguments: [
        (POP3Credentials.automatic(user: "erin", password: "correct horse"), "PLAIN"),  // over STLS: PLAIN
        (.sasl(mechanism: .scramSHA256, user: "erin", password: "correct horse"), "SCRAM-SHA-256"),
        (.sasl(mechanism: .login, user: "erin", password: "correct horse"), "LOGIN"),
    ])
    func saslMechanismsOverSTLS(_ credentials: POP3Credentials, method: String) async throws {
        let rig = try DovecotRig(users: ["erin": "correct horse"], mail: ["erin": [Self.messages[0]]])
        defer { rig.stop() }
        let stat = try await POP3Connection.withConnection(
            configuration: self.configuration(rig, security: .startTLS),
            credentials: credentials,
            logger: ClientTest.logger
        ) { connection in
            let stat = try await connection.stat()
            try await connection.quit()
            return stat.count
        }
        #expect(stat == 1)
        #expect(rig.log.contains("method=\(method)"), "Dovecot's log names the mechanism used")
    }
}
