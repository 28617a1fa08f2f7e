// The async POP3 client (GUIDE B7): one connection, its session state machine, and the
// commands of RFC 1939 with the extensions of RFC 2449, RFC 2595 and RFC 5034.

public import Logging
import NIOConcurrencyHelpers
import NIOCore
public import POP3Core

/// A logged-in POP3 connection. Obtain one with ``withConnection(configuration:credentials:logger:_:)``.
///
/// Calls are meant to be made one at a time (each awaits its replies); commands are pipelined
/// inside `retrieve` and `delete` when the server says `PIPELINING` (RFC 2449 §6.6), with more
/// sent as replies arrive.
public final class POP3Connection: Sendable {
    struct State: Sendable {
        var session = ClientSession()
        var parser: ResponseParser
        var input = ByteBuffer()
        var roundTrips = 0
        var uidlWorked = false
        /// Set when replies are still owed but nobody will read them: the connection is unusable.
        var broken: POP3ClientError?
        /// Whether a call is in progress (calls must not overlap).
        var busy = false
    }

    let transport: POP3Transport
    let configuration: POP3ClientConfiguration
    let logger: Logger
    let state: NIOLockedValueBox<State>

    init(transport: POP3Transport, configuration: POP3ClientConfiguration, logger: Logger) {
        self.transport = transport
        self.configuration = configuration
        self.logger = logger
        self.state = NIOLockedValueBox(
            State(parser: ResponseParser(maximumStatusLineLength: configuration.maximumResponseLineLength))
        )
    }

    /// Connects, reads the greeting, does STLS when configured (never falling back to cleartext;
    /// `.unsupported` if the server lacks STLS), asks CAPA (again after STLS), authenticates, runs
    /// `body`, then closes. If `body` throws, the connection is closed without QUIT, so the server
    /// applies no deletions; to commit deletions `body` calls ``quit()``.
    public static func withConnection<R: Sendable>(
        configuration: POP3ClientConfiguration,
        credentials: POP3Credentials,
        logger: Logger,
        _ body: (POP3Connection) async throws -> R
    ) async throws -> R {
        try await Self.session(configuration: configuration, credentials: credentials, logger: logger, body)
    }

    /// ``withConnection(configuration:credentials:logger:_:)``, and with no credentials the
    /// session stays in AUTHORIZATION (a probe).
    static func session<R: Sendable>(
        configuration: POP3ClientConfiguration,
        credentials: POP3Credentials?,
        logger: Logger,
        _ body: (POP3Connection) async throws -> R
    ) async throws -> R {
        var logger = logger
        logger[metadataKey: "pop3.server"] = "\(configuration.host):\(configuration.port)"
        let transport = try await POP3Transport.connect(configuration: configuration)
        let connection = POP3Connection(transport: transport, configuration: configuration, logger: logger)
        defer { transport.close() }
        try await connection.start(credentials: credentials)
        return try await body(connection)
    }

    /// The capabilities from the last CAPA (after STLS and after login); empty if CAPA failed.
    public var capabilities: [Capability] { self.state.withLockedValue { $0.session.capabilities ?? [] } }

    /// Whether the server said PIPELINING.
    public var supportsPipelining: Bool { self.state.withLockedValue { $0.session.supportsPipelining } }

    /// Whether CAPA said UIDL, or `uidl()` worked.
    public var supportsUIDL: Bool {
        self.state.withLockedValue { $0.uidlWorked || ($0.session.capabilities?.contains(.uidl) ?? false) }
    }

    /// Round trips made so far: writes sent while no reply was outstanding (a write-then-wait
    /// cycle counts one; a pipeline topped up while replies stream in counts none).
    public var roundTrips: Int { self.state.withLockedValue { $0.roundTrips } }

    // MARK: - Sending and receiving

    /// Runs one API call; a call made while another is in progress throws instead of
    /// interleaving two exchanges on one connection.
    func exclusive<T>(_ body: () async throws -> T) async throws -> T {
        try self.state.withLockedValue { state in
            guard !state.busy else {
                throw POP3ClientError(
                    kind: .unsupported,
                    message: "a POP3Connection was used by two tasks at once; make one call at a time"
                )
            }
            state.busy = true
        }
        defer { self.state.withLockedValue { $0.busy = false } }
        return try await body()
    }

    /// Records and sends `commands` in one write: one round trip.
    func send(_ commands: [Command]) async throws {
        var buffer = ByteBuffer()
        try self.state.withLockedValue { state in
            if let broken = state.broken { throw broken }
            // A write that tops up a pipeline while replies stream in costs no wait of its own.
            if !state.session.isAwaitingResponse { state.roundTrips += 1 }
            for command in commands {
                do throws(ClientSessionError) {
                    try state.session.willSend(command)
                } catch {
                    throw POP3ClientError(
                        kind: .unsupported,
                        message: "cannot send \(command.keyword) now: \(error.hint)"
                    )
                }
                buffer.writePOP3Command(command)
            }
        }
        if self.logger.logLevel <= .debug {
            for command in commands { self.logger.debug("C: \(command.descriptionWithoutPII)") }
        }
        try await self.transport.write(buffer)
    }

    /// Sends one SASL response line (RFC 5034 §4).
    func sendSASLResponse(_ bytes: [UInt8]) async throws {
        var buffer = ByteBuffer()
        try self.state.withLockedValue { state in
            do throws(ClientSessionError) {
                try state.session.willSendSASLResponse()
            } catch {
                throw POP3ClientError(kind: .protocolViolation, message: "unexpected SASL step: \(error.hint)")
            }
            state.roundTrips += 1
        }
        buffer.writePOP3ClientLine(.saslResponse(bytes))
        self.logger.debug("C: [SASL response, \(bytes.count) bytes]")
        try await self.transport.write(buffer)
    }

    /// The next event of the session, reading from the network as needed.
    func nextEvent() async throws -> ClientSessionEvent {
        while true {
            let event: ClientSessionEvent? = try self.state.withLockedValue { state in
                do {
                    guard let part = try state.parser.parse(&state.input, expecting: state.session.expectedShape) else {
                        return nil
                    }
                    return try state.session.received(part)
                } catch let error as ResponseParserError {
                    throw self.markBroken(
                        &state,
                        POP3ClientError(
                            kind: .protocolViolation,
                            message: "the server's reply is malformed: \(error.hint)"
                        )
                    )
                } catch let error as ClientSessionError {
                    throw self.markBroken(
                        &state,
                        POP3ClientError(
                            kind: .protocolViolation,
                            message: "the server broke the protocol: \(error.hint)"
                        )
                    )
                } catch {
                    throw self.markBroken(&state, POP3ClientError(kind: .protocolViolation, message: "\(error)"))
                }
            }
            if let event {
                if case .completed(let command, let response) = event {
                    self.logger.debug("S: \(response.status == .ok ? "+OK" : "-ERR") (\(command.keyword))")
                }
                return event
            }
            let chunk: ByteBuffer
            do {
                chunk = try await self.transport.nextChunk()
            } catch let error as POP3ClientError {
                throw self.state.withLockedValue { self.markBroken(&$0, error) }
            }
            self.state.withLockedValue { state in
                if state.input.readableBytes == 0 {
                    state.input = chunk
                } else {
                    var chunk = chunk
                    state.input.discardReadBytes()
                    state.input.writeBuffer(&chunk)
                }
            }
        }
    }

    /// Marks the connection unusable and closes it; returns `error` for throwing.
    func markBroken(_ state: inout State, _ error: POP3ClientError) -> POP3ClientError {
        if state.broken == nil { state.broken = error }
        state.session.closed()
        self.transport.close()
        return error
    }

    /// Breaks the connection if replies are still owed (used when a caller's closure throws).
    func abandonOutstanding() {
        self.state.withLockedValue { state in
            if state.session.isAwaitingResponse {
                _ = self.markBroken(
                    &state,
                    POP3ClientError(
                        kind: .protocolViolation,
                        message: "the connection was abandoned with replies outstanding"
                    )
                )
            }
        }
    }

    /// Reads the final reply to a single-line command.
    func awaitCompletion(of command: Command) async throws -> Response {
        let event = try await self.nextEvent()
        guard case .completed(let answered, let response) = event, answered == command else {
            throw self.state.withLockedValue {
                self.markBroken(
                    &$0,
                    POP3ClientError(kind: .protocolViolation, message: "unexpected reply to \(command.keyword)")
                )
            }
        }
        return response
    }

    /// Sends a single-line command and returns its `+OK` reply; a `-ERR` throws `.serverError`.
    func simpleCommand(_ command: Command) async throws -> Response {
        try await self.send([command])
        let response = try await self.awaitCompletion(of: command)
        guard response.status == .ok else { throw Self.serverError(response, command: command) }
        return response
    }

    static func serverError(_ response: Response, command: Command) -> POP3ClientError {
        let code = response.code?.rawValue
        let kind: POP3ClientError.Kind = response.code == .inUse ? .inUse : .serverError
        let text = response.text.isEmpty ? "" : ": \(response.text)"
        return POP3ClientError(kind: kind, message: "the server refused \(command.keyword)\(text)", responseCode: code)
    }

    /// The bytes received and not yet parsed (for the STLS injection check).
    var unparsedByteCount: Int { self.state.withLockedValue { $0.input.readableBytes } }
}
