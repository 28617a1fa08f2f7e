// TRANSACTION and UPDATE commands (RFC 1939 §§5–7, RFC 2449 §6.6 for pipelining).

import MailCore
import NIOConcurrencyHelpers
import NIOCore
import POP3Core

extension POP3Connection {
    /// STAT (RFC 1939 §5): the number of messages and their total size in octets.
    public func stat() async throws -> (count: Int, size: Int) {
        try await self.exclusive {
            let response = try await self.simpleCommand(.stat)
            let fields = response.text.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let count = Int(fields[0]), let size = Int(fields[1]), count >= 0, size >= 0 else {
                throw self.violation("the reply to STAT is not \"count size\"")
            }
            return (count, size)
        }
    }

    /// The largest message size believed in a LIST reply: 1 TiB.
    static let maximumMessageSize = 1 << 40
    /// The most lines a LIST or UIDL reply may have (a maildrop of 10 million messages), so a
    /// hostile server streaming listing lines cannot grow memory without bound.
    static let maximumListingEntries = 10_000_000

    /// LIST (RFC 1939 §5): every message's number and size.
    public func list() async throws -> [POP3ListEntry] {
        try await self.exclusive {
            try await self.listing(.list(nil)) { (first: Int, second: String) -> POP3ListEntry? in
                // A size no real message has (over 1 TiB) is a hostile or broken server: refusing
                // it keeps later arithmetic (totals, progress) from overflowing.
                guard let size = Int(second), size >= 0, size <= Self.maximumMessageSize else { return nil }
                return POP3ListEntry(number: first, size: size)
            }
        }
    }

    /// UIDL (RFC 1939 §7): every message's unique id. Throws `.serverError` if unsupported.
    public func uidl() async throws -> [POP3UIDLEntry] {
        try await self.exclusive {
            let entries = try await self.listing(.uidl(nil)) { (first: Int, second: String) -> POP3UIDLEntry? in
                guard let uniqueID = UniqueID(second) else { return nil }
                return POP3UIDLEntry(number: first, uniqueID: uniqueID)
            }
            self.state.withLockedValue { $0.uidlWorked = true }
            return entries
        }
    }

    /// RETR each number in order, pipelined when the server supports PIPELINING (up to
    /// `pipelineWindow` commands unanswered, ``pipelined(_:costs:sendingWhile:_:)``), else
    /// lock-step. `body` gets `begin`, `bytes`..., `end` per message and is awaited per chunk, so
    /// memory stays bounded whatever the message size. A `-ERR` for one message is thrown after
    /// the replies to the others were read (and delivered).
    public func retrieve(_ numbers: [Int], _ body: (RetrieveEvent) async throws -> Void) async throws {
        try await self.retrieve(numbers.map { POP3ListEntry(number: $0, size: 0) }, sendingWhile: { true }, body)
    }

    /// RETR of listed messages in order, like ``retrieve(_:_:)``, the pipeline also paced by
    /// their listed sizes: at most `pipelineBytes` listed octets unanswered (one command
    /// always). `shouldSend` is asked before each further batch of commands goes out; once it
    /// says no, nothing more is sent, the replies to the commands already sent are still read
    /// and delivered, and the call returns (messages never asked for get no events).
    public func retrieve(
        _ messages: [POP3ListEntry],
        sendingWhile shouldSend: () -> Bool,
        _ body: (RetrieveEvent) async throws -> Void
    ) async throws {
        try await self.exclusive {
            let commands = try messages.map { Command.retr(try self.messageNumber($0.number)) }
            var firstError: POP3ClientError?
            try await self.pipelined(commands, costs: messages.map(\.size), sendingWhile: shouldSend) {
                command,
                event in
                if let error = try await self.deliver(event, of: command, to: body) {
                    if firstError == nil { firstError = error }
                }
            }
            if let firstError { throw firstError }
        }
    }

    /// TOP (RFC 1939 §7): the headers and the first `lines` body lines of a message.
    public func top(_ number: Int, lines: Int, _ body: (RetrieveEvent) async throws -> Void) async throws {
        try await self.exclusive {
            guard lines >= 0 else {
                throw POP3ClientError(kind: .unsupported, message: "TOP needs a line count of 0 or more")
            }
            let command = Command.top(try self.messageNumber(number), lines: lines)
            var firstError: POP3ClientError?
            try await self.pipelined([command]) { command, event in
                firstError = try await self.deliver(event, of: command, to: body)
            }
            if let firstError { throw firstError }
        }
    }

    /// DELE each number (pipelined when supported). Reads every reply, then throws on the first `-ERR`.
    public func delete(_ numbers: [Int]) async throws {
        try await self.exclusive {
            let commands = try numbers.map { Command.dele(try self.messageNumber($0)) }
            var firstError: POP3ClientError?
            try await self.pipelined(commands) { command, event in
                guard case .completed(_, let response) = event else {
                    throw self.violation("unexpected reply to \(command.keyword)")
                }
                if response.status == .err, firstError == nil {
                    firstError = Self.serverError(response, command: command)
                }
            }
            if let firstError { throw firstError }
        }
    }

    /// RSET (RFC 1939 §5): unmark all messages marked as deleted.
    public func reset() async throws {
        try await self.exclusive {
            _ = try await self.simpleCommand(.rset)
        }
    }

    /// NOOP (RFC 1939 §5).
    public func noop() async throws {
        try await self.exclusive {
            _ = try await self.simpleCommand(.noop)
        }
    }

    /// QUIT (RFC 1939 §6): the server enters UPDATE and applies deletions. Throws if the server
    /// answers `-ERR` (deletions may not have been applied).
    public func quit() async throws {
        try await self.exclusive {
            try await self.send([.quit])
            let response = try await self.awaitCompletion(of: .quit)
            self.transport.close()
            guard response.status == .ok else {
                throw POP3ClientError(
                    kind: .serverError,
                    message:
                        "the server could not finish the session (deletions may not have been applied): \(response.text)",
                    responseCode: response.code?.rawValue
                )
            }
        }
    }

    // MARK: - Helpers

    /// Sends `commands` in order and hands every reply event to `handle`.
    ///
    /// With PIPELINING the client need not wait for a reply before sending the next command
    /// (RFC 2449 §6.6), and sending while a long reply streams in keeps the server busy: up to
    /// `pipelineWindow` commands, and `pipelineBytes` of their `costs` (expected reply octets),
    /// are left unanswered, topped up in one write whenever half the window (or half the bytes)
    /// is answered. So a link's latency is paid once per call, not once per window. Without
    /// PIPELINING one command at a time. `shouldSend` is asked before each top-up; once false,
    /// nothing more is sent and the outstanding replies are still read.
    private func pipelined(
        _ commands: [Command],
        costs: [Int]? = nil,
        sendingWhile shouldSend: () -> Bool = { true },
        _ handle: (Command, ClientSessionEvent) async throws -> Void
    ) async throws {
        let window = self.supportsPipelining ? max(1, self.configuration.pipelineWindow) : 1
        let byteBudget = max(1, self.configuration.pipelineBytes)
        var sent = 0
        var answered = 0
        var outstandingCost = 0
        var stopped = false
        // The limit that ended the last batch: the next waits until half of it is free again.
        var heldByBytes = false
        func cost(_ index: Int) -> Int { costs.map { max(0, $0[index]) } ?? 0 }
        do {
            while true {
                let outstanding = sent - answered
                let room = heldByBytes ? outstandingCost <= byteBudget / 2 : outstanding <= window / 2
                if !stopped, sent < commands.count, outstanding == 0 || room {
                    var batch: [Command] = []
                    if shouldSend() {
                        // One command may always go out; more while both limits allow.
                        while sent < commands.count, sent - answered < window {
                            guard sent == answered || outstandingCost + cost(sent) <= byteBudget else {
                                heldByBytes = true
                                break
                            }
                            heldByBytes = false
                            batch.append(commands[sent])
                            outstandingCost += cost(sent)
                            sent += 1
                        }
                    } else {
                        stopped = true
                    }
                    if !batch.isEmpty { try await self.send(batch) }
                }
                guard sent > answered else { return }
                let event = try await self.nextEvent()
                let command: Command
                switch event {
                case .completed(let done, _), .multiLineCompleted(let done):
                    command = done
                    outstandingCost -= cost(answered)
                    answered += 1
                case .multiLineStarted(let current, _), .line(let current, _), .content(let current, _):
                    command = current
                case .greeting, .saslChallenge, .startTLS:
                    throw self.violation("unexpected reply")
                }
                try await handle(command, event)
            }
        } catch {
            self.abandonOutstanding()
            throw error
        }
    }

    /// Turns one RETR/TOP reply event into `RetrieveEvent`s; returns the error for a `-ERR`.
    private func deliver(
        _ event: ClientSessionEvent,
        of command: Command,
        to body: (RetrieveEvent) async throws -> Void
    ) async throws -> POP3ClientError? {
        let number: Int
        switch command {
        case .retr(let n), .top(let n, _): number = n.value
        default: throw self.violation("unexpected reply")
        }
        switch event {
        case .multiLineStarted: try await body(.begin(number: number))
        case .content(_, let bytes): try await body(.bytes(bytes))
        case .multiLineCompleted: try await body(.end(number: number))
        case .completed(_, let response): return Self.serverError(response, command: command)
        case .line, .greeting, .saslChallenge, .startTLS: throw self.violation("unexpected reply to \(command.keyword)")
        }
        return nil
    }

    /// A multi-line listing of "number word" lines.
    private func listing<Entry>(
        _ command: Command,
        _ makeEntry: (Int, String) -> Entry?
    ) async throws -> [Entry] {
        try await self.send([command])
        var entries: [Entry] = []
        while true {
            switch try await self.nextEvent() {
            case .multiLineStarted: continue
            case .line(_, let line):
                let fields = String(decoding: line.readableBytesView, as: UTF8.self)
                    .split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 2, let number = Int(fields[0]), number >= 1,
                    let entry = makeEntry(number, String(fields[1]))
                else {
                    throw self.violation("a line of the reply to \(command.keyword) is malformed")
                }
                guard entries.count < Self.maximumListingEntries else {
                    throw self.violation(
                        "the reply to \(command.keyword) has more than \(Self.maximumListingEntries) lines"
                    )
                }
                entries.append(entry)
            case .multiLineCompleted: return entries
            case .completed(_, let response): throw Self.serverError(response, command: command)
            default: throw self.violation("unexpected reply to \(command.keyword)")
            }
        }
    }

    private func messageNumber(_ value: Int) throws -> MessageNumber {
        guard let number = MessageNumber(exactly: value) else {
            throw POP3ClientError(kind: .unsupported, message: "\(value) is not a message number")
        }
        return number
    }

    func violation(_ message: String) -> POP3ClientError {
        self.state.withLockedValue { self.markBroken(&$0, POP3ClientError(kind: .protocolViolation, message: message)) }
    }
}
