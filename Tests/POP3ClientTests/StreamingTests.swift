// A large RETR streams through bounded memory: the client reads only as fast as its consumer
// takes the bytes, so a stalled consumer stalls the sender (TCP backpressure).

import NIOConcurrencyHelpers
import NIOCore
import POP3Client
import Testing

@Suite("Client streaming")
struct StreamingTests {
    /// 1 MiB of dot-stuffed wire lines (every tenth line starts with a dot) and its unstuffed length.
    static func megabyteOfLines() -> (wire: ByteBuffer, bodyLength: Int) {
        var wire = ByteBuffer()
        var bodyLength = 0
        var line = 0
        while wire.readableBytes < 1 << 20 {
            let text = String(repeating: "abcdefghij", count: 9) + "\r\n"
            if line % 10 == 0 {
                wire.writeString(".." + text)
                bodyLength += 1 + text.utf8.count
            } else {
                wire.writeString(text)
                bodyLength += text.utf8.count
            }
            line += 1
        }
        return (wire, bodyLength)
    }

    @Test func hundredMegabyteMessageIsNotBufferedAhead() async throws {
        let megabytes = 100
        let (chunk, chunkBodyLength) = Self.megabyteOfLines()
        let written = NIOLockedValueBox(0)
        let server = try await ScriptedServer { peer in
            try await peer.send("+OK ready\r\n")
            try await peer.expect("CAPA")
            try await peer.send("-ERR\r\n")
            try await peer.expect("USER alice")
            try await peer.send("+OK\r\n")
            try await peer.expect("PASS secret")
            try await peer.send("+OK\r\n")
            try await peer.expect("RETR 1")
            // Straight to the channel: each write completes only once the kernel took the bytes.
            try await peer.channel.writeAndFlush(ByteBuffer(string: "+OK big message\r\n"))
            for _ in 0..<megabytes {
                try await peer.channel.writeAndFlush(chunk)
                written.withLockedValue { $0 += chunk.readableBytes }
            }
            try await peer.channel.writeAndFlush(ByteBuffer(string: ".\r\n"))
            try await peer.expect("QUIT")
            try await peer.send("+OK\r\n")
        }
        defer { server.stop() }
        var received = 0
        var writtenWhileStalled = 0
        var largestChunk = 0
        try await POP3Connection.withConnection(
            configuration: ClientTest.configuration(port: server.port, timeout: .seconds(30)),
            credentials: .userPass(user: "alice", password: "secret"),
            logger: ClientTest.logger
        ) { connection in
            try await connection.retrieve([1]) { event in
                guard case .bytes(let buffer) = event else { return }
                if received == 0 {
                    // Stall the consumer; a client that buffered ahead would let the server finish.
                    try await Task.sleep(for: .seconds(1))
                    writtenWhileStalled = written.withLockedValue { $0 }
                }
                received += buffer.readableBytes
                largestChunk = max(largestChunk, buffer.readableBytes)
            }
            try await connection.quit()
        }
        try await server.finish()
        #expect(received == megabytes * chunkBodyLength)
        // Kernel socket buffers on loopback hold tens of MiB at most (receive buffer up to 32 MiB
        // here, send buffer 4 MiB); a client reading ahead would have let all 100 MiB through.
        #expect(
            writtenWhileStalled < 64 << 20,
            "the server got \(writtenWhileStalled) bytes out while the consumer stalled"
        )
        #expect(largestChunk <= 1 << 20)
    }
}
