// The local admin socket behind `postoffice who` and `postoffice kick USER` (issue 9, part 5).
import FileIO
import Foundation
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import POP3Server
import ServiceLifecycle

/// The admin protocol: the client sends one request line, the server answers and closes.
///
/// ```
/// C: who
/// S: alice<TAB>127.0.0.1:40112<TAB>pop3s<TAB>12      (user or -, peer, listener, seconds open)
/// C: kick alice
/// S: kicked 1
/// ```
/// A refused request is answered `error: TEXT`. The socket file is mode 0600, made while the
/// server is still root and left root's, so only root (or the server's own user, when it was
/// not started as root) can connect; the peer's credentials are checked as well.
enum AdminProtocol {
    /// A request line longer than this is refused.
    static let maximumRequestLength = 1024

    static func whoLine(_ session: SessionSummary) -> String {
        let seconds = session.connectedFor.components.seconds
        return [session.user ?? "-", "\(session.peer)", session.implicitTLS ? "pop3s" : "pop3", "\(seconds)"]
            .joined(separator: "\t")
    }

    /// The answer to `request` against `server`.
    static func answer(_ request: String, server: POP3Server) -> String {
        let words = request.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch words.first {
        case "who" where words.count == 1:
            return server.sessions().map { whoLine($0) + "\n" }.joined()
        case "kick" where words.count == 2:
            return "kicked \(server.closeSessions(user: words[1]))\n"
        default:
            return "error: unknown request (who, kick USER)\n"
        }
    }
}

/// Listens on the admin socket and answers ``AdminProtocol`` requests.
final class AdminSocket: Service, Sendable {
    let path: String
    let server: POP3Server
    let logger: Logger
    private let bound = NIOLockedValueBox<(any Channel)?>(nil)

    init(path: String, server: POP3Server, logger: Logger) {
        self.path = path
        self.server = server
        self.logger = logger
    }

    /// Binds the socket (mode 0600, owned by whoever runs this: root before the drop).
    func bind() async throws {
        let server = self.server
        let allowedUID = geteuid()
        let path = self.path
        let directory = (path as NSString).deletingLastPathComponent
        try await BlockingIO.run {
            try FileManager.default.createDirectory(
                atPath: directory.isEmpty ? "." : directory,
                withIntermediateDirectories: true
            )
        }
        // The file is created with the umask's mode; nobody else may connect in between.
        let previous = umask(0o177)
        defer { umask(previous) }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AdminRequestHandler(server: server, allowedUID: allowedUID)
                    )
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .get()
        guard chmod(path, 0o600) == 0 else {
            try? await channel.close()
            throw ConfigError("chmod \(path): \(String(cString: strerror(errno)))")
        }
        bound.withLockedValue { $0 = channel }
    }

    func run() async throws {
        if bound.withLockedValue({ $0 }) == nil { try await bind() }
        let channel = bound.withLockedValue { $0! }  // safe: bound above
        try await channel.setOption(.autoRead, value: true).get()
        logger.info("admin socket on \(path)")
        try? await gracefulShutdown()
        try? await channel.close()
        let path = self.path
        _ = try? await BlockingIO.run { unlink(path) }
    }
}

/// Reads one request line from a peer whose credentials allow it, answers, closes.
private final class AdminRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: POP3Server
    private let allowedUID: uid_t
    private var request = ByteBuffer()
    private var answered = false

    init(server: POP3Server, allowedUID: uid_t) {
        self.server = server
        self.allowedUID = allowedUID
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var bytes = unwrapInboundIn(data)
        request.writeBuffer(&bytes)
        let view = request.readableBytesView
        if let newline = view.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: view[view.startIndex..<newline], as: UTF8.self)
            respond(line.trimmingCharacters(in: .whitespacesAndNewlines), context: context)
        } else if request.readableBytes > AdminProtocol.maximumRequestLength {
            reply("error: request too long\n", context: context)
        }
    }

    /// Answers once SO_PEERCRED (Linux) says the connecting process is root or our own user.
    private func respond(_ line: String, context: ChannelHandlerContext) {
        answered = true
        guard let provider = context.channel as? any SocketOptionProvider else {
            reply("error: permission denied\n", context: context)
            return
        }
        let credentials: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        )
        let allowedUID = self.allowedUID
        let server = self.server
        credentials.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let peer) where peer.uid == 0 || peer.uid == allowedUID:
                self.reply(AdminProtocol.answer(line, server: server), context: context)
            case .success, .failure:
                self.reply("error: permission denied\n", context: context)
            }
        }
    }

    private func reply(_ text: String, context: ChannelHandlerContext) {
        answered = true
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// Linux's `struct ucred` (what SO_PEERCRED returns; Glibc's module map hides it without
/// `_GNU_SOURCE`): the same three fields, in the same order.
private struct PeerCredentials: Sendable {
    var pid: pid_t = 0
    var uid: uid_t = 0
    var gid: gid_t = 0
}
