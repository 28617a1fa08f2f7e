// A trivial in-memory POP3 responder: every answer is prepared at start, any USER/PASS is
// accepted, nothing touches a disk. Driven by the bench on its own core, it shows how fast the
// generator can go, so a server's figures are the server's and not the generator's.

import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

struct ResponderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "responder",
        abstract: "A trivial in-memory POP3 server (answers prepared in advance) for calibrating the generator."
    )

    @Option(help: "Plain listener, HOST:PORT.")
    var listen = "127.0.0.1:1110"

    @Option(name: .customLong("listen-tls"), help: "Implicit-TLS listener, HOST:PORT (needs --tls-cert and --tls-key).")
    var listenTLS: String?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key.")
    var tlsKey: String?

    @Option(help: "Serve the messages a corpus manifest lists for --manifest-account (byte-exact RETR).")
    var manifest: String?

    @Option(name: .customLong("manifest-account"), help: "An account of the manifest to serve (repeatable).")
    var manifestAccounts: [String] = []

    @Option(help: "Messages in the maildrop of every other user.")
    var messages = 100

    @Option(name: .customLong("message-size"), help: "Approximate size of each of those messages, in octets.")
    var messageSize = 4096

    @Option(help: "Event-loop threads.")
    var threads = 1

    @Option(name: .customLong("run-seconds"), help: "Stop after this many seconds.")
    var runSeconds: Double = 3600

    func run() throws {
        raiseOpenFileLimit()
        var maildrops: [String: ResponderMaildrop] = [:]
        if let manifest = self.manifest {
            let expected = try Manifest.load(path: manifest).expectedMessages(for: self.manifestAccounts)
            for (user, maildrop) in expected {
                maildrops[user] = ResponderMaildrop(messages: maildrop.messages)
            }
        }
        let synthetic = ResponderMaildrop(
            messages: ResponderMaildrop.synthetic(count: self.messages, size: self.messageSize)
        )
        let table = ResponderMaildrops(byUser: maildrops, fallback: synthetic)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, self.threads))
        defer { try? group.syncShutdownGracefully() }
        var listeners = [try Self.bind(self.listen, tls: nil, maildrops: table, group: group)]
        if let listenTLS = self.listenTLS {
            guard let certificate = self.tlsCert, let key = self.tlsKey else {
                throw ValidationError("--listen-tls needs --tls-cert and --tls-key")
            }
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            )
            let context = try NIOSSLContext(configuration: configuration)
            listeners.append(try Self.bind(listenTLS, tls: context, maildrops: table, group: group))
        }
        let channels = listeners
        for channel in channels {
            Reporter.write("responder listening on \(channel.localAddress.map { "\($0)" } ?? "?")\n")
        }
        let stop = group.next().scheduleTask(in: .nanoseconds(Int64(self.runSeconds * 1e9))) {
            for channel in channels { channel.close(promise: nil) }
        }
        for channel in channels { try channel.closeFuture.wait() }
        stop.cancel()
    }

    static func bind(
        _ address: String,
        tls: NIOSSLContext?,
        maildrops: ResponderMaildrops,
        group: MultiThreadedEventLoopGroup
    ) throws -> any Channel {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw ValidationError("expected HOST:PORT, got \(address)")
        }
        let host = String(address[..<colon]).trimmingCharacters(in: ["[", "]"])
        return try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.addHandler(ResponderHandler(maildrops: maildrops))
                }
            }
            .bind(to: try Target.resolve(host: host, port: port))
            .wait()
    }
}

/// One maildrop's answers, encoded once.
struct ResponderMaildrop: Sendable {
    let stat: ByteBuffer
    let list: ByteBuffer
    let uidl: ByteBuffer
    /// Status line and dot-stuffed body of each message, in one buffer each.
    let retr: [ByteBuffer]

    init(messages: [WireMessage]) {
        let total = messages.reduce(0) { $0 + $1.size }
        self.stat = ByteBuffer(string: "+OK \(messages.count) \(total)\r\n")
        var list = ByteBuffer(string: "+OK \(messages.count) messages\r\n")
        var uidl = ByteBuffer(string: "+OK\r\n")
        var retr: [ByteBuffer] = []
        for (index, message) in messages.enumerated() {
            list.writeString("\(index + 1) \(message.size)\r\n")
            uidl.writeString("\(index + 1) responder-\(index + 1)\r\n")
            var answer = ByteBuffer(string: "+OK \(message.size) octets\r\n")
            answer.writeBytes(message.wire)
            retr.append(answer)
        }
        list.writeString(".\r\n")
        uidl.writeString(".\r\n")
        self.list = list
        self.uidl = uidl
        self.retr = retr
    }

    /// `count` deterministic text messages of about `size` octets, some lines starting with ".".
    static func synthetic(count: Int, size: Int) -> [WireMessage] {
        (0..<max(0, count)).map { index in
            var text = Array("From: responder@example.test\nSubject: message \(index + 1)\n\n".utf8)
            var line = 0
            while text.count < size {
                line += 1
                let prefix = line % 10 == 0 ? "." : ""
                text += Array("\(prefix)line \(line) of message \(index + 1), filler filler filler filler\n".utf8)
            }
            return WireMessage(stored: text)
        }
    }
}

/// The maildrops by user; any other user gets `fallback`.
final class ResponderMaildrops: Sendable {
    let byUser: [String: ResponderMaildrop]
    let fallback: ResponderMaildrop

    init(byUser: [String: ResponderMaildrop], fallback: ResponderMaildrop) {
        self.byUser = byUser
        self.fallback = fallback
    }
}

/// Answers one connection from the prepared maildrops; writes are flushed once per read.
final class ResponderHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A line longer than this without LF closes the connection (RFC 2449 §4 allows 255 octets).
    static let maximumLineLength = 1024

    private static let ok = ByteBuffer(string: "+OK\r\n")
    private static let bye = ByteBuffer(string: "+OK bye\r\n")
    private static let unknown = ByteBuffer(string: "-ERR unknown command\r\n")
    private static let noSuchMessage = ByteBuffer(string: "-ERR no such message\r\n")
    private static let notLoggedIn = ByteBuffer(string: "-ERR log in first\r\n")
    private static let greeting = ByteBuffer(string: "+OK postoffice-bench responder ready\r\n")
    private static let capa = ByteBuffer(string: "+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n")

    private let maildrops: ResponderMaildrops
    private var received: ByteBuffer?
    private var user = ""
    private var maildrop: ResponderMaildrop?
    private var pendingFlush = false
    private var quitting = false

    init(maildrops: ResponderMaildrops) {
        self.maildrops = maildrops
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(self.wrapOutboundOut(Self.greeting), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        var buffer: ByteBuffer
        if var pending = self.received {
            self.received = nil
            pending.writeBuffer(&incoming)
            buffer = pending
        } else {
            buffer = incoming
        }
        while !self.quitting, let end = buffer.readableBytesView.firstIndex(of: WireForm.lf) {
            let length = end - buffer.readerIndex
            let line = buffer.readSlice(length: length + 1)!  // safe: LF found within the readable bytes
            self.answer(line, context: context)
        }
        if buffer.readableBytes > Self.maximumLineLength {
            context.close(promise: nil)
            return
        }
        self.received = buffer.readableBytes > 0 ? buffer : nil
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.pendingFlush {
            self.pendingFlush = false
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func answer(_ line: ByteBuffer, context: ChannelHandlerContext) {
        let bytes = line.readableBytesView
        let response: ByteBuffer
        switch Self.keyword(bytes) {
        case Keyword.user:
            // Only needed to pick a manifest maildrop; the synthetic one serves everybody.
            self.user = self.maildrops.byUser.isEmpty ? "" : Self.argument(bytes) ?? ""
            response = Self.ok
        case Keyword.pass:
            self.maildrop = self.maildrops.byUser[self.user] ?? self.maildrops.fallback
            response = Self.ok
        case Keyword.noop:
            response = Self.ok
        case Keyword.capa:
            response = Self.capa
        case Keyword.quit:
            self.quitting = true
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(self.wrapOutboundOut(Self.bye)).whenComplete { _ in bound.value.close(promise: nil) }
            return
        case Keyword.stat:
            response = self.maildrop?.stat ?? Self.notLoggedIn
        case Keyword.list:
            response = self.maildrop?.list ?? Self.notLoggedIn
        case Keyword.uidl:
            response = self.maildrop?.uidl ?? Self.notLoggedIn
        case Keyword.retr:
            guard let maildrop = self.maildrop else {
                response = Self.notLoggedIn
                break
            }
            guard let number = Self.argument(bytes).flatMap({ Int($0) }), number >= 1, number <= maildrop.retr.count
            else {
                response = Self.noSuchMessage
                break
            }
            response = maildrop.retr[number - 1]
        default:
            response = Self.unknown
        }
        context.write(self.wrapOutboundOut(response), promise: nil)
        self.pendingFlush = true
    }

    /// The first four bytes of a line, upper-cased, as one number (POP3 keywords are
    /// case-insensitive, RFC 1939 §3); 0 for a shorter line.
    private static func keyword(_ bytes: ByteBufferView) -> UInt32 {
        guard bytes.count >= 4 else { return 0 }
        var value: UInt32 = 0
        for byte in bytes.prefix(4) {
            value = value << 8 | UInt32(byte & 0xDF)
        }
        return value
    }

    private enum Keyword {
        static let user = Self.value("USER")
        static let pass = Self.value("PASS")
        static let noop = Self.value("NOOP")
        static let capa = Self.value("CAPA")
        static let quit = Self.value("QUIT")
        static let stat = Self.value("STAT")
        static let list = Self.value("LIST")
        static let uidl = Self.value("UIDL")
        static let retr = Self.value("RETR")

        static func value(_ text: StaticString) -> UInt32 {
            text.withUTF8Buffer { buffer in buffer.reduce(0) { $0 << 8 | UInt32($1) } }
        }
    }

    /// The first argument: the bytes after the keyword's space up to the next space or line end.
    private static func argument(_ bytes: ByteBufferView) -> String? {
        let rest = bytes.dropFirst(5)
        let end = rest.firstIndex { $0 == UInt8(ascii: " ") || $0 == WireForm.cr || $0 == WireForm.lf } ?? rest.endIndex
        let argument = rest[rest.startIndex..<end]
        return argument.isEmpty ? nil : String(decoding: argument, as: UTF8.self)
    }
}
