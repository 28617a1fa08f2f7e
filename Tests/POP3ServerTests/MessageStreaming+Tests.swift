import MailStore
import POP3Core
import POP3Server
import POP3TestSupport
import TestTiming
import Testing

/// RETR streams with backpressure: a peer that does not read holds a bounded amount of the
/// message in the server, and one that goes away mid-stream releases its maildrop.
@Suite("Message streaming")
struct MessageStreamingTests {
    /// `megabytes` MiB of 1,000-byte lines, every tenth starting with a dot.
    static func largeMessage(megabytes: Int) -> [UInt8] {
        var message = Array("Subject: large\n\n".utf8)
        var line = 0
        while message.count < megabytes << 20 {
            if line % 10 == 0 { message.append(UInt8(ascii: ".")) }
            message += Array(repeating: UInt8(ascii: "a") + UInt8(line % 26), count: 999)
            message.append(UInt8(ascii: "\n"))
            line += 1
        }
        return message
    }

    @Test func aPeerThatDoesNotReadHoldsABoundedPartOfTheMessage() async throws {
        let store = TestMailStore(chunkSize: 64 * 1024)
        // Four times what socket buffers hold here (about 4 MiB ahead of a stalled peer).
        let message = Self.largeMessage(megabytes: 16)
        store.add(user: "alice", bytes: message)
        try await TestServer.with(store: store) { server in
            try await server.loggedIn { client async throws in
                try await client.send("RETR 1\r\n")
                // The client reads nothing for a while: socket buffers fill, and the server
                // stops reading the message instead of queueing it in memory.
                try await Task.sleep(for: .seconds(1))
                let readAhead = store.contentBytesRead
                #expect(readAhead < message.count / 2, "read \(readAhead) of \(message.count) bytes ahead of the peer")
                #expect(try await client.line() == "+OK \(CRLFSizeCounter.size(of: message)) octets")
                let body = try await client.skipMultiLineBody()
                let lines = message.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
                #expect(body.lines == lines.count)
                #expect(body.bytes == message.count - lines.count)
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
        }
    }

    @Test func aPeerThatStopsReadingIsCutOffAndItsMaildropReleased() async throws {
        let store = TestMailStore(chunkSize: 64 * 1024)
        let message = Self.largeMessage(megabytes: 16)
        store.add(user: "alice", bytes: message)
        // The login must fit in the idle timeout, so it is scaled for slow builds.
        let idleSeconds = 2 * TestTimeScale.factor
        try await TestServer.with(store: store, configure: { $0.limits.idleTimeoutSeconds = idleSeconds }) { server in
            try await server.connect { client async throws in
                _ = try await client.line()
                // One burst, so no pause of the client's own counts as idleness.
                try await client.send("USER alice\r\nPASS secret\r\nRETR 1\r\n")
                // Read nothing: the idle timeout closes the connection mid-stream.
                try await Task.sleep(for: TestTimeScale.scaled(.seconds(5)))
                let lines = try await client.readUntilClosed(maximumLines: 1_000_000)
                #expect(
                    Array(lines.prefix(3)) == [
                        "+OK send PASS", "+OK maildrop has 1 messages (\(CRLFSizeCounter.size(of: message)) octets)",
                        "+OK \(CRLFSizeCounter.size(of: message)) octets",
                    ]
                )
                #expect(lines.last != ".", "the body was cut off")
                #expect(!client.deadlineExpired, "the server closed the connection")
            }
            #expect(await eventually { store.openAndCloseCounts.closes >= 1 })
            #expect(store.openAndCloseCounts == (opens: 1, closes: 1))
            #expect(!store.isLocked(user: "alice"))
            #expect(store.uniqueIDs(user: "alice").count == 1, "no UPDATE without QUIT")
        }
    }
}
