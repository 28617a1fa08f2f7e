// POP3Server: the per-connection loop that feeds ServerSession and performs its actions
// (GUIDE B6: the postgres-nio run(action) shape in async form).
import Accounts
import Crypto
import Logging
import MailStore
import NIOCore
import NIOSSL
import POP3Core
import SASL

/// Everything a connection needs from its server, shared by all connections.
struct POP3ConnectionEnvironment: Sendable {
    var configuration: POP3ServerConfiguration
    var sslContext: NIOSSLContext?
    var mechanisms: [String]
    var failureDelays: AuthFailureDelays
}

/// Runs one POP3 session on one connection. Lives inside one task; not shared.
final class POP3ConnectionRunner {
    let environment: POP3ConnectionEnvironment
    let channel: any Channel
    private let framer: NIOLoopBound<POP3FramingHandler>
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var session: ServerSession
    var maildrop: (any Maildrop)?
    var mechanism: (any SASLServerMechanism)?
    /// The account a SASL exchange checked, as the account database spells it.
    var saslCanonicalUser: String?
    var logger: Logger
    let peer: PeerAddress
    private var loginTime: ContinuousClock.Instant?

    init(
        environment: POP3ConnectionEnvironment,
        channel: any Channel,
        framer: NIOLoopBound<POP3FramingHandler>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        implicitTLS: Bool
    ) {
        let configuration = environment.configuration
        self.environment = environment
        self.channel = channel
        self.framer = framer
        self.outbound = outbound
        self.peer = PeerAddress(channel.remoteAddress)
        var logger = configuration.logger
        logger[metadataKey: "peer"] = "\(self.peer)"
        self.logger = logger
        let cleartext =
            configuration.allowCleartextAuth || (configuration.cleartextAllowedOnLoopback && self.peer.isLoopback)
        self.session = ServerSession(
            configuration: ServerSession.Configuration(
                limits: configuration.limits,
                tlsActive: implicitTLS,
                stlsAvailable: environment.sslContext != nil && !implicitTLS,
                cleartextAllowedWithoutTLS: cleartext,
                saslMechanisms: environment.mechanisms,
                apopTimestamp: configuration.apop ? APOP.makeTimestamp(hostname: configuration.hostname) : nil,
                loginDelaySeconds: configuration.loginDelaySeconds,
                expireDays: configuration.expireDays
            )
        )
    }

    /// Greets, then reads and answers lines until the session ends or the peer goes away.
    /// Deletions happen only after QUIT (RFC 1939 §6); the maildrop is always closed.
    func run(inbound: NIOAsyncChannelInboundStream<POP3InboundFrame>) async {
        do {
            try await write(session.greeting)
            for try await frame in inbound {
                let keepGoing = try await handle(frame)
                if !keepGoing { break }
            }
        } catch {
            logger.debug("connection ended: \(String(describing: type(of: error)))")
        }
        await finish()
    }

    private func handle(_ frame: POP3InboundFrame) async throws -> Bool {
        switch frame {
        case .idleTimeout:
            logger.info("idle timeout peer=\(peer)")
            return try await perform(session.timedOut())
        case .overlong(let error):
            return try await perform(session.receivedMalformedLine(error))
        case .line(let bytes, let isSTLSGate):
            let keepGoing = try await handleLine(bytes)
            if isSTLSGate, keepGoing {
                let framer = self.framer
                try await channel.eventLoop.submit { framer.value.resume() }.get()
            }
            return keepGoing
        }
    }

    private func handleLine(_ bytes: ByteBuffer) async throws -> Bool {
        if session.isInTransaction, let maildrop {
            do {
                try await maildrop.touch()
            } catch MailStoreError.takenOver {
                logger.notice("session taken over user=\(session.statistics.user ?? "-") peer=\(peer)")
                return try await perform(session.maildropTakenOver())
            } catch {
                // A failed activity stamp is not worth ending the session for.
                logger.warning("maildrop touch failed: \(String(describing: error))")
            }
        }
        let action: ServerSession.Action
        do {
            let line = try CommandParser.parse(
                line: bytes,
                expecting: session.expectation,
                limits: session.configuration.limits
            )
            logger.trace("C: \(line.descriptionWithoutPII)")
            action = session.received(line)
        } catch {
            action = session.receivedMalformedLine(error)
        }
        return try await perform(action)
    }

    /// Performs `action` and every action that follows from its outcome. Returns false when
    /// the connection is to be closed.
    private func perform(_ first: ServerSession.Action) async throws -> Bool {
        var next: ServerSession.Action? = first
        while let action = next {
            next = nil
            switch action {
            case .wait:
                return true
            case .send(let response):
                try await write(response)
            case .sendMultiLine(let header, let lines):
                try await writeMultiLine(header, lines: lines)
            case .sendContinuation(let bytes):
                var buffer = ByteBuffer(string: "+ ")
                buffer.writeString(Base64.encode(bytes))
                buffer.writeString("\r\n")
                try await outbound.write(buffer)
            case .streamMessage(let index, let header, let bodyLineLimit):
                try await streamMessage(index: index, header: header, bodyLineLimit: bodyLineLimit)
            case .verifyPassword(let user, let password):
                next = await verifyPassword(user: user, password: password)
            case .verifyAPOP(let user, let digest, let timestamp):
                next = await verifyAPOP(user: user, digest: digest, timestamp: timestamp)
            case .startSASL(let name, let initialResponse):
                next = await startSASL(name: name, initialResponse: initialResponse)
            case .stepSASL(let response):
                guard var mechanism = self.mechanism else {
                    preconditionFailure("SASL step without a mechanism")
                }
                let step = mechanism.received(response: response)
                self.mechanism = mechanism
                next = await continueSASL(step)
            case .rejectLogin(let user, let mechanism, let reason):
                next = await loginFailed(user: user, mechanism: mechanism, reason: reason, failure: .invalidCredentials)
            case .openMaildrop(let user, let mechanism):
                next = await openMaildrop(user: user, mechanism: mechanism)
            case .startTLS(let response):
                next = try await startTLS(response)
            case .commitDeletions(let indices):
                next = await commitDeletions(indices)
            case .sendAndClose(let response):
                try await write(response)
                return false
            case .close:
                return false
            }
        }
        return !session.isClosed
    }

    // MARK: - Writing

    private func write(_ response: Response) async throws {
        var buffer = ByteBuffer()
        buffer.writePOP3Response(response)
        try await outbound.write(buffer)
    }

    /// A multi-line listing, written in chunks of about 16 KiB.
    private func writeMultiLine(_ header: Response, lines: [String]) async throws {
        var buffer = ByteBuffer()
        buffer.writePOP3Response(header)
        for line in lines {
            if line.hasPrefix(".") { buffer.writeString(".") }
            buffer.writeString(line)
            buffer.writeString("\r\n")
            if buffer.readableBytes >= 16384 {
                try await outbound.write(buffer)
                buffer.clear()
            }
        }
        buffer.writeString(".\r\n")
        try await outbound.write(buffer)
    }

    private struct EnoughLines: Error {}

    /// RETR/TOP: stream the stored bytes through the dot-stuffing encoder, awaiting each
    /// write (backpressure), so memory stays bounded whatever the message size.
    private func streamMessage(index: Int, header: Response, bodyLineLimit: Int?) async throws {
        guard let maildrop else { preconditionFailure("message stream without a maildrop") }
        var encoder = DotStuffingEncoder(bodyLineLimit: bodyLineLimit)
        var pending = ByteBuffer()
        pending.writePOP3Response(header)
        do {
            try await maildrop.readContent(at: index) { chunk in
                encoder.encode(chunk, into: &pending)
                try await outbound.write(pending)
                pending = ByteBuffer()
                if encoder.isComplete { throw EnoughLines() }
            }
        } catch is EnoughLines {
            // TOP has sent what it needs.
        } catch let error as MailStoreError {
            // The header may be out already; a multi-line body cannot be taken back.
            logger.error("reading message failed: \(String(describing: error))")
            channel.close(promise: nil)
            throw error
        }
        encoder.finish(into: &pending)
        try await outbound.write(pending)
        if bodyLineLimit == nil, encoder.messageOctets != maildrop.messages[index].size {
            logger.warning(
                "size mismatch uid=\(maildrop.messages[index].uniqueID) listed=\(maildrop.messages[index].size) sent=\(encoder.messageOctets)"
            )
        }
        session.messageStreamFinished(octets: encoder.messageOctets, wholeMessage: bodyLineLimit == nil)
    }

    // MARK: - STLS

    private func startTLS(_ response: Response) async throws -> ServerSession.Action {
        guard let sslContext = environment.sslContext else { preconditionFailure("STLS without TLS configured") }
        var encoded = ByteBuffer()
        encoded.writePOP3Response(response)
        let bytes = encoded
        let framer = self.framer
        let held = try await channel.eventLoop.submit {
            framer.value.startTLS(response: bytes, context: sslContext)
        }.get()
        if held > 0 { logger.notice("STLS refused: \(held) plaintext bytes sent after STLS peer=\(peer)") }
        return session.stlsRequested(bufferedBytes: held)
    }

    // MARK: - Store

    private func openMaildrop(user: String, mechanism: String) async -> ServerSession.Action {
        do {
            let maildrop = try await environment.configuration.mailStore.openMaildrop(user: user)
            self.maildrop = maildrop
            loginTime = .now
            return session.maildropOpened(maildrop.messages.map { .init(size: $0.size, uniqueID: $0.uniqueID) })
        } catch let error as MailStoreError {
            logger.notice("maildrop not opened user=\(user) peer=\(peer) reason=\(Self.reason(error))")
            switch error {
            case .inUse: return session.maildropOpenFailed(.inUse)
            case .noSuchUser: return session.maildropOpenFailed(.permanent)
            case .takenOver, .io: return session.maildropOpenFailed(.temporary)
            }
        } catch {
            logger.error("maildrop open failed user=\(user) peer=\(peer)")
            return session.maildropOpenFailed(.temporary)
        }
    }

    private static func reason(_ error: MailStoreError) -> String {
        switch error {
        case .inUse: return "in-use"
        case .takenOver: return "taken-over"
        case .noSuchUser: return "no-such-user"
        case .io: return "io"
        }
    }

    private func commitDeletions(_ indices: [Int]) async -> ServerSession.Action {
        guard let maildrop else { preconditionFailure("UPDATE without a maildrop") }
        do {
            if !indices.isEmpty { try await maildrop.commitDeletions(indices) }
            return session.deletionsCommitted(success: true)
        } catch {
            logger.error(
                "deleting messages failed user=\(session.statistics.user ?? "-"): \(String(describing: error))"
            )
            return session.deletionsCommitted(success: false)
        }
    }

    /// Always runs: release the maildrop lock and write the logout line.
    private func finish() async {
        if let maildrop {
            await maildrop.close()
            self.maildrop = nil
            let stats = session.statistics
            let duration = loginTime.map { ContinuousClock.now - $0 } ?? .zero
            logger.info(
                "\(LoginLog.logout(user: stats.user ?? "-", retrieved: stats.retrieved, deleted: stats.deleted, bytes: stats.bytesSent, duration: duration))"
            )
        }
    }
}
