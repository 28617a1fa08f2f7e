// LMTPCore: the server side of an LMTP session as a pure state machine (RFC 2033, RFC 5321 §3–4,
// RFC 2920 pipelining).
public import struct NIOCore.ByteBuffer
import struct POP3Core.DotUnstuffingDecoder
import struct POP3Core.LineFramer

/// The server's LMTP session (RFC 2033): LHLO, then mail transactions of MAIL, RCPT and DATA,
/// with one reply per accepted recipient after the message (RFC 2033 §4.2).
///
/// Pure: no I/O, no clock. The shell appends the bytes it reads to one buffer and calls
/// ``next(input:)`` until it answers ``Action/readMore``, performing each ``Action``. Framing
/// is done here, so the machine sees the byte stream exactly as the peer sent it: command
/// lines are bounded by ``LMTPLimits/maximumCommandLineLength``; message data is un-stuffed
/// and ends at CRLF.CRLF only (RFC 5321 §4.1.1.4, §4.5.2), never at a bare LF, so no
/// second message can be smuggled inside the first.
///
/// Pipelining (RFC 2920) needs nothing special: commands are taken one at a time from
/// whatever is buffered, and the shell does not call ``next(input:)`` while it performs a
/// ``Action/checkRecipient(_:)`` or ``Action/deliver(_:)``.
public struct LMTPServerSession: Sendable {
    /// What the shell fills in from the server configuration.
    public struct Configuration: Hashable, Sendable {
        /// This server's name, in the greeting and the LHLO reply (RFC 5321 §4.1.1.1).
        public var hostname: String
        public var limits: LMTPLimits

        public init(hostname: String, limits: LMTPLimits = LMTPLimits()) {
            self.hostname = hostname
            self.limits = limits
        }
    }

    enum State: Hashable, Sendable {
        /// Greeted; waiting for LHLO (RFC 2033 §4.1).
        case awaitingLHLO
        /// Reading commands; ``LMTPServerSession/transaction`` says whether MAIL was accepted.
        case command
        /// Waiting for the shell to look this recipient up.
        case checkingRecipient(Mailbox)
        /// Reading the message after `354` into ``LMTPServerSession/reception``.
        case receivingData
        /// Replying to the final ".", one reply per accepted recipient (RFC 2033 §4.2).
        case delivering(DeliveryRun)
        case closed
    }

    /// A mail transaction: from MAIL to the end of DATA, or RSET (RFC 5321 §3.3).
    struct Transaction: Hashable, Sendable {
        var reversePath: ReversePath
        var parameters: MailParameters
        var recipients: [AcceptedRecipient] = []
    }

    struct MessageReception: Hashable, Sendable {
        var decoder = DotUnstuffingDecoder()
        var message = ByteBuffer()
        /// The message passed the size limit: the rest is read and dropped.
        var tooLarge = false
    }

    struct DeliveryRun: Hashable, Sendable {
        var message: ByteBuffer
        var tooLarge: Bool
        /// The recipient whose reply comes next.
        var nextRecipient = 0
        /// Outcomes per account: a message goes to each account once, and every recipient
        /// of that account gets the same reply.
        var outcomes: [String: DeliveryOutcome] = [:]
        /// A delivery is with the shell.
        var awaitingShell = false
    }

    public let configuration: Configuration
    var state: State = .awaitingLHLO
    var transaction: Transaction?
    /// The message being read. Kept outside `state`, so appending to it never copies the
    /// buffer (a copy in an enum payload would make a large message cost quadratic time).
    var reception = MessageReception()
    var framer: LineFramer
    var commandsBeforeLHLO = 0
    var badCommands = 0
    var shutdownRequested = false

    public init(configuration: Configuration) {
        self.configuration = configuration
        // The framer counts the line end in its limit, as RFC 5321 §4.5.3.1.4 does.
        self.framer = LineFramer(maximumLineLength: max(configuration.limits.maximumCommandLineLength, 3))
    }

    var limits: LMTPLimits { configuration.limits }
    var hostname: String { configuration.hostname }

    /// The greeting, sent when the connection opens (RFC 5321 §4.2, §4.3.1).
    public var greeting: Reply { Reply(220, nil, "\(hostname) LMTP PostOffice ready") }

    /// True once the session has ended; the shell closes the connection.
    public var isClosed: Bool { state == .closed }

    /// True while message data is being read: the shell restarts its idle timer on each read
    /// then, since a large message takes many reads and no command line.
    public var isReceivingData: Bool { state == .receivingData }

    /// Whether the session waits for the shell (a recipient check or a delivery).
    public var isAwaitingShell: Bool {
        switch state {
        case .checkingRecipient: true
        case .delivering(let run): run.awaitingShell
        case .awaitingLHLO, .command, .receivingData, .closed: false
        }
    }

    // MARK: - Inputs

    /// The next action, taking what it needs from `input` (the bytes read so far and not yet
    /// consumed). Returns ``Action/readMore`` when `input` holds no complete command (or the
    /// message is not complete), and while the shell works on a check or delivery.
    public mutating func next(input: inout ByteBuffer) -> Action {
        while true {
            switch state {
            case .closed:
                return .close
            case .checkingRecipient:
                return .readMore
            case .delivering(var run):
                if run.awaitingShell { return .readMore }
                if let action = nextDeliveryStep(&run) {
                    state = .delivering(run)
                    return action
                }
                // Every recipient has its reply: the transaction is over (RFC 5321 §4.1.1.4).
                transaction = nil
                state = .command
            case .receivingData:
                guard input.readableBytes > 0, receiveData(from: &input) else { return .readMore }
                state = .delivering(DeliveryRun(message: reception.message, tooLarge: reception.tooLarge))
                reception = MessageReception()
            case .awaitingLHLO, .command:
                if shutdownRequested { return close(Reply(421, .notAccepting, "\(hostname) shutting down")) }
                guard let frame = framer.next(buffer: &input) else { return .readMore }
                switch frame {
                case .overlong:
                    // RFC 5321 §4.2.2: 500 includes "command line too long".
                    return countCommand() ?? badCommand(Reply(500, .syntaxError, "line too long"))
                case .line(let line):
                    return countCommand() ?? received(line: line)
                }
            }
        }
    }

    /// The shell's answer to ``Action/checkRecipient(_:)``.
    public mutating func recipientChecked(_ result: RecipientCheck) -> Action {
        guard case .checkingRecipient(let mailbox) = state, transaction != nil else {
            preconditionFailure("recipientChecked without a recipient check: \(state)")
        }
        state = .command
        switch result {
        case .found(let user):
            transaction?.recipients.append(AcceptedRecipient(mailbox: mailbox, user: user))
            return .send(Reply(250, .destinationValid, "<\(mailbox.address)> OK"))
        case .notFound:
            return .send(Reply(550, .badDestinationMailbox, "<\(mailbox.address)> User unknown"))
        case .temporaryFailure:
            return .send(Reply(451, .mailSystemTemporary, "<\(mailbox.address)> User lookup failed, try again later"))
        }
    }

    /// The shell's answer to ``Action/deliver(_:)``: the reply for the recipient it was for.
    public mutating func deliveryFinished(_ outcome: DeliveryOutcome) -> Action {
        guard case .delivering(var run) = state, run.awaitingShell, let transaction else {
            preconditionFailure("deliveryFinished without a delivery: \(state)")
        }
        let recipient = transaction.recipients[run.nextRecipient]
        run.outcomes[recipient.user] = outcome
        run.awaitingShell = false
        run.nextRecipient += 1
        state = .delivering(run)
        return .send(Self.reply(for: outcome, recipient: recipient.mailbox))
    }

    /// The idle timer fired (RFC 5321 §4.5.3.2.7).
    public mutating func timedOut() -> Action {
        close(Reply(421, .badConnection, "\(hostname) idle for too long, closing connection"))
    }

    /// The server is shutting down. A session between transactions is closed now with `421`
    /// (RFC 5321 §3.8); one that is reading or delivering a message finishes the transaction
    /// first, so nothing it accepted is left half done.
    public mutating func shutdown() -> Action {
        shutdownRequested = true
        switch state {
        case .awaitingLHLO, .command:
            return close(Reply(421, .notAccepting, "\(hostname) shutting down"))
        case .checkingRecipient, .receivingData, .delivering, .closed:
            return .readMore
        }
    }

    // MARK: - Helpers

    mutating func close(_ reply: Reply) -> Action {
        state = .closed
        return .sendAndClose(reply)
    }

    /// Counts a command before LHLO; closes once there were too many.
    mutating func countCommand() -> Action? {
        guard case .awaitingLHLO = state else { return nil }
        commandsBeforeLHLO += 1
        guard commandsBeforeLHLO > limits.maximumCommandsBeforeLHLO else { return nil }
        return close(Reply(421, .securityTemporary, "\(hostname) too many commands before LHLO, closing connection"))
    }

    /// Counts a failed command; closes once there were too many.
    mutating func badCommand(_ reply: Reply) -> Action {
        badCommands += 1
        guard badCommands < limits.maximumBadCommands else {
            return close(Reply(421, .securityTemporary, "\(hostname) too many errors, closing connection"))
        }
        return .send(reply)
    }

    /// Reads message data into ``reception``; true once the terminating line was read.
    mutating func receiveData(from input: inout ByteBuffer) -> Bool {
        if reception.tooLarge {
            // Past the limit: keep finding the end, keep nothing.
            reception.message.clear()
            return reception.decoder.decode(&input, into: &reception.message)
        }
        let finished = reception.decoder.decode(&input, into: &reception.message)
        if reception.message.readableBytes > limits.maximumMessageSize {
            reception.tooLarge = true
            reception.message = ByteBuffer()
        }
        return finished
    }

    /// The reply for the next recipient, or the delivery it needs first; nil when every
    /// recipient has had its reply.
    mutating func nextDeliveryStep(_ run: inout DeliveryRun) -> Action? {
        // safe: a transaction with recipients exists from DATA until the last reply.
        let transaction = self.transaction!
        guard run.nextRecipient < transaction.recipients.count else { return nil }
        let recipient = transaction.recipients[run.nextRecipient]
        if run.tooLarge {
            run.nextRecipient += 1
            return .send(
                Reply(552, .messageTooBig, "<\(recipient.mailbox.address)> Message exceeds the size limit (RFC 1870)")
            )
        }
        if let outcome = run.outcomes[recipient.user] {
            run.nextRecipient += 1
            return .send(Self.reply(for: outcome, recipient: recipient.mailbox))
        }
        run.awaitingShell = true
        return .deliver(
            DeliveryRequest(
                user: recipient.user,
                recipient: recipient.mailbox,
                reversePath: transaction.reversePath,
                message: run.message
            )
        )
    }

    static func reply(for outcome: DeliveryOutcome, recipient: Mailbox) -> Reply {
        let address = "<\(recipient.address)>"
        return switch outcome {
        case .stored: Reply(250, .ok, "\(address) Saved")
        case .temporaryFailure: Reply(451, .mailSystemTemporary, "\(address) Temporary failure storing the message")
        case .storageFull: Reply(452, .mailSystemFull, "\(address) Mail system full, try again later")
        case .noSuchUser: Reply(550, .badDestinationMailbox, "\(address) User unknown")
        }
    }
}
