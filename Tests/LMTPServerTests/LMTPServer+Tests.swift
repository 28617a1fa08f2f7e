// The LMTP listener over loopback TCP and a Unix socket, delivering into real Maildirs.
import Accounts
import Foundation
import LMTPCore
import LMTPServer
import MailStore
import POP3TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("LMTPServer: delivery over loopback", .serialized)
struct LMTPServerDeliveryTests {
    @Test("a message for two users over TCP: one file each, with Return-Path and Delivered-To")
    func twoUsersOverTCP() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await TestLMTPServer.with(directory: directory) { server in
            try await server.tcp { client in
                let lhlo = try await client.lhlo()
                #expect(
                    lhlo == [
                        "250-lmtp.test", "250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-8BITMIME",
                        "250 SIZE 52428800",
                    ]
                )
                // Pipelined, as Postfix sends a transaction (RFC 2920).
                try await client.send(
                    crlf(
                        "MAIL FROM:<sender@example.net> BODY=8BITMIME",
                        "RCPT TO:<alice@example.org>",
                        "RCPT TO:<nobody@example.org>",
                        "RCPT TO:<carol@example.org>",
                        "DATA"
                    )
                )
                #expect(
                    try await client.replies(5) == [
                        "250 2.1.0 OK",
                        "250 2.1.5 <alice@example.org> OK",
                        "550 5.1.1 <nobody@example.org> User unknown",
                        "250 2.1.5 <carol@example.org> OK",
                        "354 Start mail input; end with <CRLF>.<CRLF>",
                    ]
                )
                try await client.send(crlf("Subject: hello", "", "..dotted", "caf\u{E9}", ".", "QUIT"))
                #expect(
                    try await client.replies(3) == [
                        "250 2.0.0 <alice@example.org> Saved",
                        "250 2.0.0 <carol@example.org> Saved",
                        "221 2.0.0 lmtp.test closing connection",
                    ]
                )
                #expect(try await client.readLine() == nil)
            }
        }
        #expect(
            directory.messages("alice") == [
                "Return-Path: <sender@example.net>\nDelivered-To: alice@example.org\nSubject: hello\n\n.dotted\ncaf\u{E9}\n"
            ]
        )
        // The whole address is a user, so it is that user's, not a user "carol".
        #expect(
            directory.messages("carol@example.org") == [
                "Return-Path: <sender@example.net>\nDelivered-To: carol@example.org\nSubject: hello\n\n.dotted\ncaf\u{E9}\n"
            ]
        )
        #expect(directory.delivered("carol").isEmpty)
        // Maildir names carry the stored size and the CRLF size (,S= and ,W=).
        let name = try #require(directory.delivered("alice").first)
        #expect(name.contains(",S=96,W=102"))
    }

    @Test("over a Unix socket, which everyone may open and which is removed at shutdown")
    func unixSocket() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let socketPath = directory.path + "/lmtp.sock"
        try await TestLMTPServer.with(directory: directory) { server in
            var status = stat()
            #expect(stat(socketPath, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o666)
            try await server.unix { client in
                try await client.lhlo()
                try await client.send(crlf("MAIL FROM:<>", "RCPT TO:<bob>", "DATA", "bounce", "."))
                #expect(
                    try await client.replies(4) == [
                        "250 2.1.0 OK", "250 2.1.5 <bob> OK", "354 Start mail input; end with <CRLF>.<CRLF>",
                        "250 2.0.0 <bob> Saved",
                    ]
                )
            }
            #expect(server.log.lines.contains { $0.hasPrefix("delivered user=bob to=<bob> from=<> size=") })
        }
        #expect(directory.messages("bob") == ["Return-Path: <>\nDelivered-To: bob\nbounce\n"])
        #expect(!FileManager.default.fileExists(atPath: socketPath))
    }

    @Test("a stale socket file is replaced at startup")
    func staleSocket() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await TestLMTPServer.with(directory: directory) { _ in }
        // A socket file left behind (as after a crash): bind it without removing it.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = directory.path + "/lmtp.sock"
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        close(fd)
        #expect(bound == 0)
        try await TestLMTPServer.with(directory: directory) { server in
            try await server.unix { client in
                let lhlo = try await client.lhlo()
                #expect(lhlo.last == "250 SIZE 52428800")
            }
        }
    }
}

@Suite("LMTPServer: failures keep the message with the client", .serialized)
struct LMTPServerFailureTests {
    @Test("a Maildir that cannot be written: 451 for that user, the other user still gets it, new/ stays empty")
    func unwritableMaildir() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        // alice's tmp/ is a file, so creating the temporary file fails even for root.
        let maildir = directory.path + "/mail/alice/Maildir"
        for sub in ["new", "cur"] {
            try FileManager.default.createDirectory(atPath: "\(maildir)/\(sub)", withIntermediateDirectories: true)
        }
        #expect(FileManager.default.createFile(atPath: "\(maildir)/tmp", contents: Data("not a directory".utf8)))
        try await TestLMTPServer.with(directory: directory) { server in
            try await server.tcp { client in
                try await client.lhlo()
                try await client.send(
                    crlf("MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "RCPT TO:<bob@x>", "DATA", "hi", ".")
                )
                let replies = try await client.replies(6)
                #expect(replies[4] == "451 4.3.0 <alice@x> Temporary failure storing the message")
                #expect(replies[5] == "250 2.0.0 <bob@x> Saved")
                // The connection goes on.
                #expect(try await client.command("NOOP") == "250 2.0.0 OK")
            }
            #expect(
                server.log.lines.contains {
                    $0.hasPrefix("delivery failed user=alice to=<alice@x> from=<s@x> reply=451 reason=")
                }
            )
        }
        #expect(directory.delivered("alice").isEmpty)
        #expect(directory.messages("bob") == ["Return-Path: <s@x>\nDelivered-To: bob@x\nhi\n"])
    }

    @Test("a full disk answers 452 4.3.1; an account the store refuses 550 5.1.1")
    func fullDiskAndRefusedAccount() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let store = FaultyStore(base: try directory.maildirStore())
        store.fail(user: "alice", with: .io("write /x/tmp/1: \(String(cString: strerror(ENOSPC)))"))
        store.fail(user: "bob", with: .noSuchUser("bob"))
        try await TestLMTPServer.with(directory: directory, store: store) { server in
            try await server.tcp { client in
                try await client.lhlo()
                try await client.send(
                    crlf("MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "RCPT TO:<bob@x>", "DATA", "hi", ".")
                )
                let replies = try await client.replies(6)
                #expect(replies[4] == "452 4.3.1 <alice@x> Mail system full, try again later")
                #expect(replies[5] == "550 5.1.1 <bob@x> User unknown")
            }
        }
        #expect(directory.delivered("alice").isEmpty)
    }

    @Test("a passwd-file that cannot be read defers recipients (451), never bounces them")
    func unreadablePasswdFile() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        let accounts = PasswdFileAccounts(path: directory.path + "/absent-passwd")
        try await TestLMTPServer.with(directory: directory, accounts: accounts) { server in
            try await server.tcp { client in
                try await client.lhlo()
                try await client.send(crlf("MAIL FROM:<s@x>", "RCPT TO:<alice@x>"))
                #expect(try await client.replies(2)[1] == "451 4.3.0 <alice@x> User lookup failed, try again later")
            }
        }
    }
}

@Suite("LMTPServer: limits, hostile input, shutdown", .serialized)
struct LMTPServerLimitTests {
    @Test("an overlong line, 10,000 pipelined NOOPs and a message over the size limit")
    func hostileInput() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await TestLMTPServer.with(
            directory: directory,
            configure: { $0.limits.maximumMessageSize = 10_000 }
        ) { server in
            try await server.tcp { client in
                try await client.lhlo()
                try await client.send(String(repeating: "X", count: 1_000_000) + "\r\n")
                #expect(try await client.line() == "500 5.5.2 line too long")
                try await client.send(String(repeating: "NOOP\r\n", count: 10_000))
                for _ in 0..<10_000 { #expect(try await client.line() == "250 2.0.0 OK") }
                let big = String(repeating: String(repeating: "y", count: 998) + "\r\n", count: 20)
                try await client.send(crlf("MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "DATA") + big + crlf("."))
                #expect(
                    try await client.replies(4).last == "552 5.3.4 <alice@x> Message exceeds the size limit (RFC 1870)"
                )
                #expect(try await client.command("NOOP") == "250 2.0.0 OK")
            }
        }
        #expect(directory.delivered("alice").isEmpty)
    }

    @Test("a message sent in small pieces arrives whole")
    func trickledMessage() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await TestLMTPServer.with(directory: directory) { server in
            try await server.tcp { client in
                try await client.lhlo()
                let session = crlf("MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "DATA", "a", ".b", "c", ".")
                for byte in session.utf8 { try await client.send(bytes: [byte]) }
                #expect(try await client.replies(4).last == "250 2.0.0 <alice@x> Saved")
            }
        }
        #expect(directory.messages("alice") == ["Return-Path: <s@x>\nDelivered-To: alice@x\na\nb\nc\n"])
    }

    @Test("an idle connection is closed with 421 4.4.2")
    func idleTimeout() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await TestLMTPServer.with(directory: directory, configure: { $0.limits.idleTimeoutSeconds = 1 }) { server in
            try await server.tcp { client in
                // Only the greeting is read: a command sent a second later (a loaded machine)
                // could meet a connection already closed, which is what is being tested.
                let greeting = try await client.line()
                #expect(greeting.hasPrefix("220 "))
                #expect(try await client.line() == "421 4.4.2 lmtp.test idle for too long, closing connection")
                #expect(try await client.readLine() == nil)
            }
        }
    }

    @Test("connections over the limit are refused with 421 4.3.2")
    func connectionLimit() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await TestLMTPServer.with(directory: directory, configure: { $0.maximumConnections = 1 }) { server in
            try await server.tcp { first in
                try await first.lhlo()
                try await server.unix { second in
                    let refusal = try await second.line()
                    #expect(refusal == "421 4.3.2 lmtp.test too many connections, try again later")
                    let end = try await second.readLine()
                    #expect(end == nil)
                }
                #expect(try await first.command("NOOP") == "250 2.0.0 OK")
            }
        }
    }

    @Test("shutdown closes idle sessions at once and lets a message being sent finish")
    func gracefulShutdown() async throws {
        let directory = try ScratchDirectory()
        defer { directory.remove() }
        try await TestLMTPServer.with(directory: directory) { server in
            try await server.tcp { busy in
                try await busy.lhlo()
                try await busy.send(crlf("MAIL FROM:<s@x>", "RCPT TO:<alice@x>", "DATA", "first half"))
                #expect(try await busy.replies(3).last == "354 Start mail input; end with <CRLF>.<CRLF>")
                try await server.unix { idle in
                    try await idle.lhlo()
                    await server.shutdown()
                    #expect(try await idle.line() == "421 4.3.2 lmtp.test shutting down")
                    #expect(try await idle.readLine() == nil)
                }
                try await busy.send(crlf("second half", "."))
                #expect(try await busy.line() == "250 2.0.0 <alice@x> Saved")
                #expect(try await busy.line() == "421 4.3.2 lmtp.test shutting down")
                #expect(try await busy.readLine() == nil)
            }
        }
        #expect(directory.messages("alice") == ["Return-Path: <s@x>\nDelivered-To: alice@x\nfirst half\nsecond half\n"])
    }
}
