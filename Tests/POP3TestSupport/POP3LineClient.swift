// Test support: a tiny line-oriented POP3 client over real loopback sockets.
public import NIOCore
import NIOPosix
public import NIOSSL
import Synchronization
import TestTiming

/// Raw lines in, raw bytes out, for driving a server in tests (including hostile input).
///
/// Every connection has a deadline after which it is closed, so a test can never hang.
public final class POP3LineClient {
    public enum ClientError: Error {
        case connectionClosed
        case unexpected(String)
    }

    let channel: any Channel
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var buffer = ByteBuffer()
    public private(set) var isClosed = false
    let deadline: DeadlineFlag

    /// True when the connection was closed by the client's own deadline, not by the server.
    public var deadlineExpired: Bool { deadline.expired.load(ordering: .acquiring) }

    init(
        channel: any Channel,
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        deadline: DeadlineFlag
    ) {
        self.deadline = deadline
        self.channel = channel
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects to `host:port` (with TLS when `tls` is given), runs `body`, and closes.
    public static func withConnection<Result>(
        host: String = "127.0.0.1",
        port: Int,
        tls: NIOSSLContext? = nil,
        serverHostname: String? = "localhost",
        deadline: TimeAmount = .seconds(30),
        _ body: (POP3LineClient) async throws -> Result
    ) async throws -> Result {
        let asyncChannel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handler = try NIOSSLClientHandler(context: tls, serverHostname: serverHostname)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await run(asyncChannel, deadline: deadline, body)
    }

    /// Runs `body` with a client on a connected channel, closed by `deadline` (times
    /// ``TestTimeScale/factor``: a safety net, never the behaviour under test) at the latest.
    static func run<Result>(
        _ asyncChannel: NIOAsyncChannel<ByteBuffer, ByteBuffer>,
        deadline: TimeAmount,
        _ body: (POP3LineClient) async throws -> Result
    ) async throws -> Result {
        let flag = DeadlineFlag()
        let timer = asyncChannel.channel.eventLoop.scheduleTask(in: TestTimeScale.scaled(deadline)) {
            flag.expired.store(true, ordering: .releasing)
            asyncChannel.channel.close(promise: nil)
        }
        defer { timer.cancel() }
        return try await asyncChannel.executeThenClose { inbound, outbound in
            let client = POP3LineClient(
                channel: asyncChannel.channel,
                inbound: inbound,
                outbound: outbound,
                deadline: flag
            )
            return try await body(client)
        }
    }

    /// Sends text as is (add CRLF yourself).
    public func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    /// Sends bytes as is.
    public func send(bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    private func fill() async throws -> Bool {
        guard !isClosed else { return false }
        do {
            guard var chunk = try await inbound.next() else {
                isClosed = true
                return false
            }
            if buffer.readerIndex >= 1 << 20 { buffer.discardReadBytes() }
            buffer.writeBuffer(&chunk)
            return true
        } catch {
            isClosed = true
            return false
        }
    }

    /// The next line without CRLF, or nil once the server has closed.
    public func readLine() async throws -> String? {
        while true {
            if let lf = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = lf - buffer.readerIndex
                // safe: the LF was just found inside the readable bytes.
                var line = buffer.readString(length: length)!
                buffer.moveReaderIndex(forwardBy: 1)
                if line.hasSuffix("\r") { line.removeLast() }
                return line
            }
            guard try await fill() else { return nil }
        }
    }

    /// The next line exactly as sent, terminator (LF or CRLF) included; nil once the server
    /// has closed. Bytes the server sent before closing without a final LF are returned as
    /// they are.
    public func readRawLine() async throws -> [UInt8]? {
        while true {
            if let lf = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                // safe: the LF was just found inside the readable bytes.
                return buffer.readBytes(length: lf - buffer.readerIndex + 1)!
            }
            guard try await fill() else {
                guard buffer.readableBytes > 0 else { return nil }
                // safe: reading exactly the readable bytes.
                return buffer.readBytes(length: buffer.readableBytes)!
            }
        }
    }

    /// The next line, failing when the server has closed.
    public func line() async throws -> String {
        guard let line = try await readLine() else { throw ClientError.connectionClosed }
        return line
    }

    /// Sends a command line and returns the first response line.
    public func command(_ text: String) async throws -> String {
        try await send(text + "\r\n")
        return try await line()
    }

    /// Reads the lines of a multi-line body up to the `.` line, un-stuffing.
    public func multiLineBody() async throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try await line()
            if line == "." { return lines }
            lines.append(line.hasPrefix(".") ? String(line.dropFirst()) : line)
        }
    }

    /// Reads a multi-line body up to its `.` line without keeping it (large bodies); returns
    /// how many lines it had and their bytes, un-stuffed, without line ends.
    public func skipMultiLineBody() async throws -> (lines: Int, bytes: Int) {
        var lines = 0
        var bytes = 0
        while true {
            let line = try await line()
            if line == "." { return (lines, bytes) }
            lines += 1
            bytes += line.utf8.count - (line.hasPrefix(".") ? 1 : 0)
        }
    }

    /// Reads raw bytes of a multi-line body, up to and including `CRLF.CRLF` (or `.CRLF`
    /// right at the start), exactly as sent.
    public func rawMultiLineBody() async throws -> [UInt8] {
        var collected: [UInt8] = []
        while true {
            let view = buffer.readableBytesView
            for (offset, byte) in view.enumerated() {
                collected.append(byte)
                let count = collected.count
                let terminated =
                    (count == 3 && collected == [0x2E, 0x0D, 0x0A])
                    || (count >= 5 && collected[(count - 5)...].elementsEqual([0x0D, 0x0A, 0x2E, 0x0D, 0x0A]))
                if terminated {
                    buffer.moveReaderIndex(forwardBy: offset + 1)
                    return collected
                }
            }
            buffer.moveReaderIndex(forwardBy: view.count)
            guard try await fill() else { throw ClientError.connectionClosed }
        }
    }

    /// Waits until the server closes, discarding what it sends; returns the lines it sent.
    @discardableResult
    public func readUntilClosed(maximumLines: Int = 100_000) async throws -> [String] {
        var lines: [String] = []
        while lines.count < maximumLines, let line = try await readLine() {
            lines.append(line)
        }
        return lines
    }

    /// After the server's `+OK` to STLS: puts TLS under the connection.
    public func startTLS(context: NIOSSLContext, serverHostname: String? = "localhost") async throws {
        guard buffer.readableBytes == 0 else { throw ClientError.unexpected("bytes after STLS response") }
        let channel = self.channel
        try await channel.eventLoop.submit {
            let handler = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        }.get()
    }
}

/// Set when a connection's deadline closed it.
final class DeadlineFlag: Sendable {
    let expired = Atomic<Bool>(false)
}
