import MailCore
import MailStore
import NIOCore
import POP3Core
import POP3Server
import POP3TestSupport
import TestTiming
import Testing

@Suite("POP3Server over loopback")
struct ServerBasicsTests {
    @Test func listingsLargerThanOneWriteArriveOnceAndInOrder() async throws {
        let store = TestMailStore()
        let count = 10_000
        for number in 1...count {
            store.add(
                user: "alice",
                message: "Subject: \(number)\n\nbody\n",
                uniqueID: "uid-\(number)-padding-for-width"
            )
        }
        try await TestServer.with(store: store) { server in
            try await server.connect { client async throws in
                #expect(try await client.line().hasPrefix("+OK"))
                #expect(try await client.command("USER alice").hasPrefix("+OK"))
                #expect(try await client.command("PASS secret").hasPrefix("+OK"))
                #expect(try await client.command("UIDL") == "+OK unique-id listing follows")
                let uidl = try await client.multiLineBody()
                #expect(uidl.count == count)
                #expect(uidl == (1...count).map { "\($0) uid-\($0)-padding-for-width" })
                #expect(try await client.command("LIST").hasPrefix("+OK \(count) messages"))
                let list = try await client.multiLineBody()
                #expect(list.count == count)
                #expect(try await client.command("NOOP") == "+OK")
            }
        }
    }

    @Test func fullSessionRetrieveDeleteQuit() async throws {
        let store = TestMailStore(chunkSize: 7)
        store.add(user: "alice", message: "Subject: one\n\nHello\n.dot line\n", uniqueID: "u1")
        store.add(user: "alice", message: "Subject: two\n\nNo final newline", uniqueID: "u2")
        try await TestServer.with(store: store) { server in
            try await server.connect { client async throws in
                #expect(try await client.line().hasPrefix("+OK PostOffice POP3 server ready"))
                #expect(try await client.command("CAPA") == "+OK Capability list follows")
                let capabilities = try await client.multiLineBody()
                #expect(capabilities.contains("USER"))
                #expect(capabilities.contains("SASL PLAIN LOGIN SCRAM-SHA-256"))
                #expect(capabilities.contains("PIPELINING"))
                #expect(!capabilities.contains("STLS"), "no TLS configured")
                #expect(try await client.command("USER alice") == "+OK send PASS")
                #expect(try await client.command("PASS secret") == "+OK maildrop has 2 messages (68 octets)")
                #expect(try await client.command("STAT") == "+OK 2 68")
                #expect(try await client.command("LIST") == "+OK 2 messages (68 octets)")
                #expect(try await client.multiLineBody() == ["1 34", "2 34"])
                #expect(try await client.command("UIDL") == "+OK unique-id listing follows")
                #expect(try await client.multiLineBody() == ["1 u1", "2 u2"])
                #expect(try await client.command("RETR 1") == "+OK 34 octets")
                let raw = try await client.rawMultiLineBody()
                #expect(raw == Array("Subject: one\r\n\r\nHello\r\n..dot line\r\n.\r\n".utf8))
                #expect(raw.count - 3 - 1 == 34, "octets before stuffing equal the listed size")
                #expect(try await client.command("TOP 2 0") == "+OK top of message follows")
                #expect(try await client.multiLineBody() == ["Subject: two", ""])
                #expect(try await client.command("RETR 2") == "+OK 34 octets")
                // The last line is sent with the line end it lacks, and counted in the size.
                #expect(try await client.multiLineBody() == ["Subject: two", "", "No final newline"])
                #expect(try await client.command("DELE 1") == "+OK message 1 deleted")
                #expect(try await client.command("QUIT") == "+OK PostOffice POP3 server signing off (1 messages left)")
                #expect(try await client.readLine() == nil)
            }
            #expect(store.uniqueIDs(user: "alice") == ["u2"])
            // The maildrop is released, and the logout line written, just after the socket
            // closes: the release does not wait for the close (POP3ServerHandler).
            try await ServerOperationsTests.waitUntil {
                !store.isLocked(user: "alice") && server.log.lines.contains { $0.hasPrefix("logout user=alice") }
            }
            let lines = server.log.lines
            #expect(
                lines.contains {
                    $0.hasPrefix("login ok user=alice peer=127.0.0.1:") && $0.hasSuffix(" tls=no mech=USER")
                }
            )
            #expect(
                lines.contains { $0.hasPrefix("logout user=alice retrieved=2 deleted=1 bytes=84 duration=") },
                "\(lines)"
            )
            #expect(!lines.contains { $0.contains("secret") || $0.contains("Hello") })
        }
    }

    @Test func droppedConnectionDeletesNothing() async throws {
        let store = TestMailStore()
        store.add(user: "alice", message: "a\n", uniqueID: "u1")
        try await TestServer.with(store: store) { server in
            try await server.loggedIn { client async throws in
                let reply = try await client.command("DELE 1")
                #expect(reply == "+OK message 1 deleted")
            }
            // The connection is gone without QUIT: wait for the server to notice.
            #expect(await eventually { !store.isLocked(user: "alice") })
            #expect(store.uniqueIDs(user: "alice") == ["u1"])
            #expect(store.openAndCloseCounts == (1, 1))
        }
    }

    @Test func wrongPasswordAndTooManyFailures() async throws {
        try await TestServer.with { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                for attempt in 1...3 {
                    #expect(try await client.command("USER alice") == "+OK send PASS")
                    let reply = try await client.command("PASS wrong")
                    if attempt < 3 {
                        #expect(reply == "-ERR [AUTH] authentication failed")
                    } else {
                        #expect(reply == "-ERR [AUTH] too many authentication failures, closing")
                    }
                }
                #expect(try await client.readLine() == nil)
            }
            #expect(
                server.log.lines.contains {
                    $0.hasPrefix("login failed user=alice peer=127.0.0.1:")
                        && $0.hasSuffix("tls=no mech=USER reason=invalid-credentials")
                }
            )
            #expect(!server.log.lines.contains { $0.contains("wrong") })
        }
    }

    @Test func saslPlainWithInitialResponseAndContinuation() async throws {
        try await TestServer.with { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                let token = Base64.encode(Array("\0alice\0secret".utf8))
                #expect(try await client.command("AUTH PLAIN \(token)").hasPrefix("+OK maildrop has 0 messages"))
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
            try await server.connect { client async throws in
                _ = try await client.line()
                #expect(try await client.command("AUTH PLAIN") == "+ ")
                #expect(try await client.command(Base64.encode(Array("\0bob\0hunter2".utf8))).hasPrefix("+OK"))
            }
            try await server.connect { client async throws in
                _ = try await client.line()
                #expect(try await client.command("AUTH PLAIN") == "+ ")
                #expect(try await client.command("*") == "-ERR authentication cancelled")
                #expect(try await client.command("AUTH PLAIN") == "+ ")
                #expect(
                    try await client.command("!!!!") == "-ERR authentication aborted: invalid base64 in SASL response"
                )
                #expect(
                    try await client.command("AUTH PLAIN \(Base64.encode(Array("\0bob\0nope".utf8)))")
                        == "-ERR [AUTH] authentication failed"
                )
                #expect(try await client.command("AUTH CRAM-MD5") == "-ERR unsupported SASL mechanism")
                #expect(try await client.command("NOOP") == "-ERR not authenticated")
            }
            #expect(server.log.lines.contains { $0.contains("login ok user=bob") && $0.hasSuffix("mech=PLAIN") })
        }
    }

    @Test func inUseAndTakeover() async throws {
        let store = TestMailStore(takeoverAfter: .seconds(60))
        store.add(user: "alice", message: "x\n", uniqueID: "u1")
        try await TestServer.with(store: store) { server in
            try await server.loggedIn { first async throws in
                #expect(try await first.command("DELE 1") == "+OK message 1 deleted")
                try await server.connect { second async throws in
                    _ = try await second.line()
                    _ = try await second.command("USER alice")
                    #expect(
                        try await second.command("PASS secret")
                            == "-ERR [IN-USE] maildrop already locked by another session"
                    )
                    // The first session goes silent for longer than the takeover time.
                    store.expireLock(user: "alice")
                    _ = try await second.command("USER alice")
                    #expect(try await second.command("PASS secret").hasPrefix("+OK maildrop has 1 messages"))
                    // The silent session is told and closed without having to speak first.
                    #expect(try await first.line() == "-ERR [IN-USE] session taken over by a newer login")
                    #expect(try await first.readLine() == nil)
                    #expect(try await second.command("QUIT").hasPrefix("+OK"))
                }
            }
            #expect(store.uniqueIDs(user: "alice") == ["u1"], "the taken-over session's DELE is not applied")
        }
    }

    @Test func pipelinedCommandsAreAnsweredInOrder() async throws {
        let store = TestMailStore()
        for index in 1...5 { store.add(user: "alice", message: "Subject: \(index)\n\nbody \(index)\n") }
        try await TestServer.with(store: store) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                var batch = "USER alice\r\nPASS secret\r\n"
                for index in 1...50 { batch += "LIST \(index % 5 + 1)\r\nNOOP\r\n" }
                batch += "RETR 3\r\nSTAT\r\nQUIT\r\n"
                try await client.send(batch)
                #expect(try await client.line() == "+OK send PASS")
                #expect(try await client.line().hasPrefix("+OK maildrop has 5 messages"))
                for index in 1...50 {
                    #expect(try await client.line() == "+OK \(index % 5 + 1) 22")
                    #expect(try await client.line() == "+OK")
                }
                #expect(try await client.line() == "+OK 22 octets")
                #expect(try await client.multiLineBody() == ["Subject: 3", "", "body 3"])
                #expect(try await client.line() == "+OK 5 110")
                #expect(try await client.line().hasPrefix("+OK PostOffice POP3 server signing off"))
            }
        }
    }
}
