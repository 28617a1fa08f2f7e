import NIOCore
import POP3Server
import POP3TestSupport
import TestTiming
import Testing

/// Random input against the real server over loopback (DESIGN.md invariant 3): every line
/// it answers is a status line, a continuation or part of a CAPA listing; it always ends
/// the session cleanly; afterwards it serves a normal session and holds no connection.
@Suite("Random input over loopback")
struct RandomInputTests {
    @Test func twoHundredRandomSessions() async throws {
        let store = TestMailStore()
        store.add(user: "alice", message: "Subject: kept\n\nstill here\n", uniqueID: "keep")
        try await TestServer.with(store: store) { server in
            let capabilities = try await server.connect { client async throws in
                _ = try await client.line()
                _ = try await client.command("CAPA")
                return Set(try await client.multiLineBody())
            }
            var random = SeededRandom(seed: 0xC0FFEE)
            for index in 0..<200 {
                let input = RandomPOP3Input.make(using: &random, maximumLength: 1500)
                let chunks = RandomPOP3Input.chunks(of: input, using: &random, maximumChunk: 200)
                let lines = try await server.connect { client async throws in
                    #expect(try await client.line().hasPrefix("+OK"))
                    for chunk in chunks { try? await client.send(bytes: chunk) }
                    // End a line left open, cancel an exchange left open, then leave.
                    try? await client.send("\r\n*\r\nQUIT\r\n")
                    return try await client.readUntilClosed(maximumLines: 10_000)
                }
                for line in lines {
                    let wellFormed =
                        line.hasPrefix("+OK") || line.hasPrefix("-ERR") || line.hasPrefix("+ ")
                        || capabilities.contains(line) || line == "."
                    #expect(wellFormed, "input \(index): \(line.debugDescription)")
                }
            }
            try await server.loggedIn { client async throws in
                #expect(try await client.command("STAT") == "+OK 1 29")
                #expect(try await client.command("QUIT").hasPrefix("+OK"))
            }
            #expect(await eventually { server.server.connectionCount == 0 })
        }
        #expect(store.uniqueIDs(user: "alice") == ["keep"])
    }
}
