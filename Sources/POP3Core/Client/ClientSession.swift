// The client's view of a POP3 session (RFC 1939 §§4–6, RFC 2449, RFC 2595 §4, RFC 5034 §4):
// which commands may go out now, what shape each reply has, and what the replies mean.
// Pure: no I/O, no clock.

import MailCore

import struct NIOCore.CircularBuffer

/// A pure state machine for a POP3 client.
///
/// Before sending a command, call `willSend(_:)`; it records the command in a FIFO of
/// outstanding commands, so several may be in flight when the server advertises
/// `PIPELINING` (RFC 2449 §6.6). `expectedShape` tells the `ResponseParser` what the next reply
/// looks like; feed each parsed part to `received(_:)`, which returns what it means.
///
/// After `STLS` succeeds the cached capabilities are dropped (RFC 2595 §4: the client MUST
/// discard them) and `CAPA` must be asked again.
public struct ClientSession: Sendable {
    /// Where the session is.
    public enum State: Hashable, Sendable {
        /// Connected; the greeting has not arrived.
        case awaitingGreeting
        /// AUTHORIZATION (RFC 1939 §4).
        case authorization
        /// `STLS` was accepted: nothing may be sent until ``ClientSession/tlsEstablished()``.
        case negotiatingTLS
        /// TRANSACTION (RFC 1939 §5).
        case transaction
        /// `QUIT` was sent; the server's reply ends the session.
        case quitting
        /// The session is over.
        case closed
    }

    public private(set) var state: State = .awaitingGreeting
    /// The last `CAPA` answer in this security context, `nil` if not asked (or dropped after STLS).
    public private(set) var capabilities: [Capability]?
    /// The APOP timestamp from the greeting, `<...>` included (RFC 1939 §7).
    public private(set) var greetingTimestamp: String?

    private var outstanding = CircularBuffer<Command>()
    private var collectingCapabilities: [Capability]?
    /// Whether an `AUTH` challenge awaits its one response line.
    private var challengePending = false

    public init() {}

    /// Commands sent and not yet answered, oldest first.
    public var outstandingCommands: [Command] { Array(self.outstanding) }

    /// Whether the server said `PIPELINING` in this security context.
    public var supportsPipelining: Bool { self.capabilities?.contains(.pipelining) ?? false }

    /// The shape of the reply now due: the greeting's, or the oldest outstanding command's.
    public var expectedShape: ResponseShape {
        guard let command = self.outstanding.first else { return .singleLine }
        return Self.shape(of: command)
    }

    /// Whether a reply is due (the greeting or an outstanding command's).
    public var isAwaitingResponse: Bool {
        self.state == .awaitingGreeting || !self.outstanding.isEmpty
    }

    /// The reply shape of `command` (RFC 1939 §§5–7, RFC 2449 §5, RFC 5034 §4).
    public static func shape(of command: Command) -> ResponseShape {
        switch command {
        case .capa, .list(nil), .uidl(nil): return .multiLineIfOK(.lines)
        case .retr, .top: return .multiLineIfOK(.content)
        case .auth: return .saslContinuationOrFinal
        case .user, .pass, .apop, .stls, .stat, .list, .uidl, .dele, .noop, .rset, .quit, .utf8, .lang, .unknown:
            return .singleLine
        }
    }

    /// Records `command` as sent. Throws if it may not be sent now: before the greeting, while
    /// `STLS`/`AUTH`/`USER`/`PASS`/`APOP` await their reply, after `QUIT`, in the wrong state,
    /// or behind another command when the server has not said `PIPELINING`.
    public mutating func willSend(_ command: Command) throws(ClientSessionError) {
        switch self.state {
        case .awaitingGreeting, .negotiatingTLS, .quitting, .closed:
            throw .misuse("\(command.keyword) cannot be sent now (\(self.state))")
        case .authorization:
            switch command {
            case .capa, .user, .pass, .apop, .auth, .stls, .quit, .utf8, .lang, .noop: break
            case .stat, .list, .uidl, .retr, .top, .dele, .rset, .unknown:
                throw .misuse("\(command.keyword) is only valid after login")
            }
        case .transaction:
            switch command {
            case .user, .pass, .apop, .auth, .stls:
                throw .misuse("\(command.keyword) is not valid after login")
            case .capa, .quit, .stat, .list, .uidl, .retr, .top, .dele, .noop, .rset, .utf8, .lang, .unknown: break
            }
        }
        if let previous = self.outstanding.last {
            if Self.isBarrier(previous) {
                throw .misuse("\(command.keyword) cannot follow \(previous.keyword) before its reply")
            }
            if Self.isBarrier(command) {
                throw .misuse("\(command.keyword) must wait for the replies to earlier commands")
            }
            if !self.supportsPipelining {
                throw .misuse("the server does not support PIPELINING")
            }
        }
        if case .quit = command { self.state = .quitting }
        self.outstanding.append(command)
    }

    /// Records a SASL response line as sent (RFC 5034 §4: one per challenge).
    public mutating func willSendSASLResponse() throws(ClientSessionError) {
        guard self.challengePending else { throw .misuse("no SASL challenge to answer") }
        self.challengePending = false
    }

    /// Interprets the next response part.
    public mutating func received(_ part: ClientResponsePart) throws(ClientSessionError) -> ClientSessionEvent {
        if self.state == .awaitingGreeting {
            return try self.receivedGreeting(part)
        }
        guard let command = self.outstanding.first else {
            throw .peer("the server sent a reply to no command")
        }
        switch part {
        case .status(let status, let code, let text):
            let response = Response(status: status == .ok ? .ok : .err, code: code.map(ResponseCode.init), text: text)
            return try self.receivedStatus(response, for: command)
        case .multiLineLine(let line):
            if case .capa = command {
                let text = String(decoding: line.readableBytesView, as: UTF8.self)
                self.collectingCapabilities?.append(Capability(parsing: text))
            }
            return .line(command, line)
        case .multiLineBytes(let bytes):
            return .content(command, bytes)
        case .multiLineEnd:
            self.outstanding.removeFirst()
            if case .capa = command {
                self.capabilities = self.collectingCapabilities ?? []
                self.collectingCapabilities = nil
            }
            return .multiLineCompleted(command)
        case .saslChallenge(let text):
            guard case .auth = command, !self.challengePending else {
                throw .peer("unexpected continuation line")
            }
            guard let bytes = Base64.decode(bytes: text.utf8) else {
                throw .peer("the SASL challenge is not valid base64")
            }
            self.challengePending = true
            return .saslChallenge(bytes)
        }
    }

    /// The TLS handshake after `STLS` finished: back to AUTHORIZATION, capabilities unknown.
    public mutating func tlsEstablished() {
        guard self.state == .negotiatingTLS else {
            preconditionFailure("tlsEstablished() in state \(self.state)")
        }
        self.state = .authorization
    }

    /// The connection ended, or was abandoned after an error.
    public mutating func closed() {
        self.state = .closed
        self.outstanding.removeAll()
    }

    private mutating func receivedGreeting(_ part: ClientResponsePart) throws(ClientSessionError) -> ClientSessionEvent
    {
        guard case .status(let status, let code, let text) = part else {
            throw .peer("the greeting is not a status line")
        }
        let response = Response(status: status == .ok ? .ok : .err, code: code.map(ResponseCode.init), text: text)
        if status == .ok {
            self.state = .authorization
            self.greetingTimestamp = Self.apopTimestamp(in: text)
        } else {
            self.state = .closed
        }
        return .greeting(response)
    }

    private mutating func receivedStatus(
        _ response: Response,
        for command: Command
    ) throws(ClientSessionError) -> ClientSessionEvent {
        if self.challengePending {
            // RFC 5034 §4: the server may end the exchange instead of reading our response only
            // after it got one; a final status while we owe a response is a violation.
            throw .peer("the server ended AUTH while a challenge was unanswered")
        }
        if response.status == .ok, case .multiLineIfOK = Self.shape(of: command) {
            if case .capa = command { self.collectingCapabilities = [] }
            return .multiLineStarted(command, response)
        }
        self.outstanding.removeFirst()
        switch (command, response.status) {
        case (.pass, .ok), (.apop, .ok), (.auth, .ok):
            self.state = .transaction
        case (.stls, .ok):
            self.state = .negotiatingTLS
            self.capabilities = nil
            return .startTLS
        case (.quit, _):
            self.state = .closed
        default:
            break
        }
        return .completed(command, response)
    }

    /// Commands after which nothing may be sent until they are answered, because their reply
    /// changes the state or the security layer.
    private static func isBarrier(_ command: Command) -> Bool {
        switch command {
        case .user, .pass, .apop, .auth, .stls, .quit, .utf8, .lang: return true
        case .capa, .stat, .list, .uidl, .retr, .top, .dele, .noop, .rset, .unknown: return false
        }
    }

    /// `<...>` in the greeting (RFC 1939 §7): the APOP timestamp, brackets included.
    static func apopTimestamp(in text: String) -> String? {
        guard let open = text.firstIndex(of: "<"),
            let close = text[open...].firstIndex(of: ">"),
            text[open...close].contains("@")
        else { return nil }
        return String(text[open...close])
    }
}
