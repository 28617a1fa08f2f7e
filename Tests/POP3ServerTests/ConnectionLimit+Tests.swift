import POP3Server
import POP3TestSupport
import TestTiming
import Testing

/// A connection flood is bounded: past `maximumConnections` the server refuses with
/// `[SYS/TEMP]` instead of starting another session.
@Suite("Connection limit")
struct ConnectionLimitTests {
    @Test func connectionsPastTheLimitAreRefusedUntilOneCloses() async throws {
        try await TestServer.with(configure: { $0.maximumConnections = 2 }) { server in
            try await Self.expectThirdRefusedUntilOneCloses(
                server,
                refusal: "-ERR [SYS/TEMP] too many connections, try again later"
            )
            #expect(server.log.lines.contains { $0.hasPrefix("refusing connection peer=127.0.0.1:") })
        }
    }

    /// Two sessions are served and a third gets `refusal`; the second goes on, and once it has
    /// gone a new connection is served again. For any limit of two, whole or per client.
    static func expectThirdRefusedUntilOneCloses(_ server: TestServer, refusal: String) async throws {
        try await server.connect { first async throws in
            #expect(try await first.line().hasPrefix("+OK"))
            try await server.connect { second async throws in
                #expect(try await second.line().hasPrefix("+OK"))
                try await server.connect { third async throws in
                    #expect(try await third.readUntilClosed() == [refusal])
                }
                #expect(
                    try await second.command("NOOP") == "-ERR not authenticated",
                    "sessions under the limit go on"
                )
            }
            // The second has gone: wait until the server has seen it.
            #expect(await eventually { server.server.connectionCount <= 1 })
            try await server.connect { again async throws in
                #expect(try await again.line().hasPrefix("+OK PostOffice POP3 server ready"))
            }
        }
    }
}
