// POP3Server: the maildrop side of a connection: open, touch, RETR/TOP streams, UPDATE; and STLS.
import Accounts
import FileIO
import Logging
import MailStore
import NIOCore
import NIOSSL
import POP3Core
import ServerMetrics

extension POP3ServerHandler {
    // MARK: - Open and touch

    private enum OpenOutcome: Sendable {
        case opened(any Maildrop, AccountPolicy, expiring: [Bool], historyFailure: String?)
        /// The account logged in less than its login delay ago (RFC 2449 §6.5).
        case delayed(secondsLeft: Int)
        case failed(MailStoreError)
        case unexpected
    }

    /// After a successful authentication: the account's policy (its passwd-file settings over
    /// the site's), the login delay checked before the maildrop is opened (RFC 2449 §8.1.1: it
    /// "saves the cost of opening the maildrop"), then the maildrop, the login recorded, and the
    /// messages the retention period expires if this session retrieves them (RFC 2449 §6.7).
    func openMaildrop(user: String, mechanism: String) {
        let configuration = self.environment.configuration
        let store = configuration.mailStore
        let accounts = configuration.accountProvider
        let history = configuration.loginHistory
        let (siteDelay, siteExpiry) = (configuration.loginDelaySeconds, configuration.expiry)
        self.run({ () -> OpenOutcome in
            // The account database was read for the password check just now: when no account
            // has settings of its own, asking for this one's would cost a thread hop for nothing.
            let inUse = accounts.settingsInUse
            let settings =
                inUse.expiries.isEmpty && inUse.loginDelays.isEmpty
                ? AccountSettings() : await accounts.settings(user: user)
            let policy = AccountPolicy(siteLoginDelay: siteDelay, siteExpiry: siteExpiry, account: settings)
            let now = FileTime.now().seconds
            if policy.loginDelaySeconds > 0,
                let wait = await history.secondsToWait(user: user, delay: policy.loginDelaySeconds, now: now)
            {
                return .delayed(secondsLeft: wait)
            }
            let maildrop: any Maildrop
            do {
                maildrop = try await store.openMaildrop(user: user)
            } catch let error as MailStoreError {
                return .failed(error)
            } catch {
                return .unexpected
            }
            var historyFailure: String?
            if policy.loginDelaySeconds > 0 {
                // Logins older than the longest delay in force no longer hold anyone back.
                let longest = max(policy.loginDelaySeconds, inUse.loginDelays.max() ?? 0, siteDelay ?? 0)
                do {
                    try await history.record(user: user, at: now, horizon: longest)
                } catch {
                    historyFailure = String(describing: error)
                }
            }
            var expiring = Array(repeating: policy.expiresOnEveryRetrieval, count: maildrop.messages.count)
            if let cutoff = policy.expiryCutoff(now: now) {
                for index in maildrop.indices(arrivedAtOrBefore: cutoff) { expiring[index] = true }
            }
            return .opened(maildrop, policy, expiring: expiring, historyFailure: historyFailure)
        }) { handler, outcome in
            handler.maildropOpenFinished(outcome, user: user)
        }
    }

    private func maildropOpenFinished(_ outcome: OpenOutcome, user: String) {
        switch outcome {
        case .opened(let maildrop, let policy, let expiring, let historyFailure):
            // Kept even when the connection is gone meanwhile, so that cleanup releases it.
            self.maildrop = maildrop
            self.loginTime = .now
            if let eventLoop = self.context?.eventLoop {
                let handler = NIOLoopBound(self, eventLoop: eventLoop)
                maildrop.whenTakenOver {
                    eventLoop.execute { handler.value.maildropTakenOverWhileSilent() }
                }
            }
            if let historyFailure {
                self.logger.warning("cannot record the login for the login delay user=\(user): \(historyFailure)")
            }
            let messages = zip(maildrop.messages, expiring).map { message, expires in
                ServerSession.MessageInfo(size: message.size, uniqueID: message.uniqueID, expiresOnRetrieval: expires)
            }
            let account = policy.capabilities(advertisedBefore: self.session.configuration)
            self.perform(self.session.maildropOpened(messages, account: account))
        case .delayed(let secondsLeft):
            self.logger.notice("\(LoginLog.delayed(user: user, peer: self.peer, secondsLeft: secondsLeft))")
            self.perform(self.session.loginDelayed(secondsLeft: secondsLeft))
        case .failed(let error):
            self.logger.notice(
                "maildrop not opened user=\(user) peer=\(self.peer) reason=\(Self.reason(error))"
            )
            switch error {
            case .inUse: self.perform(self.session.maildropOpenFailed(.inUse))
            case .noSuchUser: self.perform(self.session.maildropOpenFailed(.permanent))
            case .takenOver, .io: self.perform(self.session.maildropOpenFailed(.temporary))
            }
        case .unexpected:
            self.logger.error("maildrop open failed user=\(user) peer=\(self.peer)")
            self.perform(self.session.maildropOpenFailed(.temporary))
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

    private enum TouchOutcome: Sendable {
        case touched
        case takenOver
        case failed(String)
    }

    /// Records activity on the maildrop before `line` is answered; a takeover by a newer
    /// login ends the session without UPDATE. A store that keeps its lease in memory answers
    /// at once, on the loop.
    func touch(_ maildrop: any Maildrop, thenHandle line: ByteBuffer) {
        self.run({ () -> TouchOutcome in
            do {
                try await maildrop.touch()
                return .touched
            } catch MailStoreError.takenOver {
                return .takenOver
            } catch {
                return .failed(String(describing: error))
            }
        }) { handler, outcome in
            switch outcome {
            case .touched:
                handler.handle(line)
            case .takenOver:
                handler.logger.notice(
                    "session taken over user=\(handler.session.statistics.user ?? "-") peer=\(handler.peer)"
                )
                handler.perform(handler.session.maildropTakenOver())
            case .failed(let description):
                // A failed activity stamp is not worth ending the session for.
                handler.logger.warning("maildrop touch failed: \(description)")
                handler.handle(line)
            }
        }
    }

    /// The store found this session taken over by a newer login while it was silent: end it
    /// now, without UPDATE, rather than when the client next speaks. Work under way finds the
    /// lost lease itself and ends the session the same way.
    private func maildropTakenOverWhileSilent() {
        guard self.maildrop != nil, self.session.isInTransaction else { return }
        switch self.phase {
        case .ready:
            self.logger.notice(
                "session taken over while silent user=\(self.session.statistics.user ?? "-") peer=\(self.peer)"
            )
            self.perform(self.session.maildropTakenOver())
        case .listing:
            // A listing the peer stopped reading: no answer can follow it.
            self.logger.notice(
                "session taken over while silent user=\(self.session.statistics.user ?? "-") peer=\(self.peer)"
            )
            self.context?.close(promise: nil)
        case .waiting, .closing, .closed:
            break
        }
    }

    // MARK: - RETR and TOP

    private struct EnoughLines: Error {}

    private enum StreamOutcome: Sendable {
        case sent(octets: Int)
        /// The store failed; `started` tells whether any of the answer had been sent.
        case storeFailed(MailStoreError, started: Bool)
        case connectionClosed
    }

    /// RETR/TOP: the stored bytes through the dot-stuffing encoder in chunks of about
    /// ``outputChunkSize``, read and encoded off the loop and written on it, with at most
    /// ``MessageStreamSink/maximumChunksInFlight`` chunks the socket has not taken yet: memory
    /// stays bounded whatever the message size and however slowly the peer reads.
    ///
    /// The `+OK` header leaves with the first chunk, once the store has opened the message and
    /// read from it: a message another program removed or changed since the session began gets
    /// `-ERR` and the session goes on. A failure after that cannot be taken back (the client
    /// has the header and part of the body), so the connection closes.
    func streamMessage(index: Int, header: Response, bodyLineLimit: Int?, context: ChannelHandlerContext) {
        guard let maildrop = self.maildrop else { preconditionFailure("message stream without a maildrop") }
        // Answers to earlier pipelined commands go first.
        if self.output.readableBytes > 0 {
            context.write(self.wrapOutboundOut(self.output), promise: nil)
            self.output = ByteBuffer()
        }
        var headerBytes = ByteBuffer()
        headerBytes.writePOP3Response(header)
        let sink = MessageStreamSink(
            handler: NIOLoopBound(self, eventLoop: context.eventLoop),
            eventLoop: context.eventLoop
        )
        self.stream = sink
        let chunkSize = Self.outputChunkSize
        self.run({ [headerBytes] () -> StreamOutcome in
            var encoder = DotStuffingEncoder(bodyLineLimit: bodyLineLimit)
            var pending = headerBytes
            var started = false
            do {
                do {
                    try await maildrop.readContent(at: index) { chunk in
                        // A store's chunk may be larger than a piece: encoded a slice of
                        // ``outputChunkSize`` at a time and sent as soon as that much is ready,
                        // so each piece is a buffer the allocator recycles (one per chunk would
                        // map and unmap pages every time) and leaves while still in the cache.
                        var chunk = chunk
                        while !encoder.isComplete,
                            let slice = chunk.readSlice(length: min(chunk.readableBytes, chunkSize)),
                            slice.readableBytes > 0
                        {
                            encoder.encode(slice, into: &pending)
                            if pending.readableBytes >= chunkSize {
                                started = true
                                try await sink.send(pending)
                                pending = ByteBuffer()
                            }
                        }
                        if encoder.isComplete { throw EnoughLines() }
                    }
                } catch is EnoughLines {
                    // TOP has what it needs.
                }
                encoder.finish(into: &pending)
                started = true
                try await sink.send(pending)
                return .sent(octets: encoder.messageOctets)
            } catch let error as MailStoreError {
                return .storeFailed(error, started: started)
            } catch {
                return .connectionClosed
            }
        }) { handler, outcome in
            handler.stream = nil
            handler.messageStreamFinished(outcome, index: index, bodyLineLimit: bodyLineLimit)
        }
    }

    private func messageStreamFinished(_ outcome: StreamOutcome, index: Int, bodyLineLimit: Int?) {
        switch outcome {
        case .sent(let octets):
            if bodyLineLimit == nil, let message = self.maildrop?.messages[index], octets != message.size {
                self.logger.warning("size mismatch uid=\(message.uniqueID) listed=\(message.size) sent=\(octets)")
            }
            if bodyLineLimit == nil { self.environment.configuration.metrics.messageRetrieved(octets: octets) }
            self.session.messageStreamFinished(index: index, octets: octets, wholeMessage: bodyLineLimit == nil)
        case .storeFailed(let error, started: false):
            self.logger.warning("reading message \(index + 1) failed: \(String(describing: error))")
            self.perform(self.session.messageUnreadable(index: index))
        case .storeFailed(let error, started: true):
            // The header is out already; a multi-line body cannot be taken back.
            self.logger.error("reading message \(index + 1) failed mid-stream: \(String(describing: error))")
            self.context?.close(promise: nil)
        case .connectionClosed:
            break
        }
    }

    /// Writes one chunk of a message body (on the loop) and tells `sink` when the socket
    /// took it.
    func writeStreamChunk(_ chunk: ByteBuffer, sink: MessageStreamSink) {
        guard let context = self.context else {
            sink.chunkWritten(success: false)
            return
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                self.lastActivity = .now()
                sink.chunkWritten(success: true)
            case .failure:
                sink.chunkWritten(success: false)
            }
        }
        context.writeAndFlush(self.wrapOutboundOut(chunk), promise: written)
    }

    // MARK: - UPDATE

    func commitDeletions(_ indices: [Int]) {
        guard !indices.isEmpty else {
            self.perform(self.session.deletionsCommitted(success: true))
            return
        }
        guard let maildrop = self.maildrop else { preconditionFailure("UPDATE without a maildrop") }
        let octets = indices.reduce(0) { $0 + maildrop.messages[$1].size }
        self.run({ () -> String? in
            do {
                try await maildrop.commitDeletions(indices)
                return nil
            } catch {
                return String(describing: error)
            }
        }) { handler, failure in
            if let failure {
                handler.logger.error(
                    "deleting messages failed user=\(handler.session.statistics.user ?? "-"): \(failure)"
                )
            } else {
                handler.environment.configuration.metrics.messagesDeleted(count: indices.count, octets: octets)
            }
            handler.perform(handler.session.deletionsCommitted(success: failure == nil))
        }
    }

    // MARK: - STLS

    /// STLS accepted (RFC 2595 §4): if no byte arrived after the STLS line, write `response`
    /// in plaintext and put TLS under everything; bytes already there were sent before TLS
    /// and may be an injection, so the session closes instead (GUIDE B5).
    func startTLS(_ response: Response, context: ChannelHandlerContext) {
        guard let sslContext = self.environment.sslContext else { preconditionFailure("STLS without TLS configured") }
        let held = self.inputBytesBuffered
        guard held == 0 else {
            self.logger.notice("STLS refused: \(held) plaintext bytes sent after STLS peer=\(self.peer)")
            self.perform(self.session.stlsRequested(bufferedBytes: held))
            return
        }
        self.output.writePOP3Response(response)
        self.flushOutput(context: context)
        do {
            try POP3ServerTLS.addServerHandlers(
                context.pipeline.syncOperations,
                context: sslContext,
                listener: .pop3,
                metrics: self.environment.configuration.metrics
            )
        } catch {
            self.logger.error("STLS failed: \(String(describing: error))")
            context.close(promise: nil)
            return
        }
        self.perform(self.session.stlsRequested(bufferedBytes: 0))
    }
}
