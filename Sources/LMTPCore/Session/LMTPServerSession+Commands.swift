// LMTPCore: answering command lines (RFC 2033 §4, RFC 5321 §4.1.1, §4.3.2).
import struct NIOCore.ByteBuffer

extension LMTPServerSession {
    /// The LHLO reply: our name, then the extensions (RFC 2033 §4.1, §5: PIPELINING and
    /// ENHANCEDSTATUSCODES are a MUST, 8BITMIME a SHOULD; SIZE is RFC 1870 §4).
    public var lhloReply: Reply {
        Reply(
            250,
            nil,
            lines: [hostname, "PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SIZE \(limits.maximumMessageSize)"]
        )
    }

    /// A complete command line (without its line end).
    mutating func received(line: ByteBuffer) -> Action {
        let command: Command
        do {
            command = try CommandParser.parse(line: line)
        } catch {
            return badCommand(Self.reply(for: error))
        }
        return received(command)
    }

    mutating func received(_ command: Command) -> Action {
        let greeted = state != .awaitingLHLO
        switch command {
        case .lhlo:
            // LHLO again is allowed and resets the transaction (RFC 5321 §4.1.4).
            state = .command
            transaction = nil
            return .send(lhloReply)
        case .smtpHello(let keyword):
            // RFC 2033 §4.1: "A LMTP server MUST NOT return a Positive Completion reply code to
            // these commands. The 500 reply code is recommended."
            return badCommand(Reply(500, .invalidCommand, "\(keyword) is SMTP, this is LMTP: use LHLO"))
        case .quit:
            return close(Reply(221, .ok, "\(hostname) closing connection"))
        case .noop:
            return .send(Reply(250, .ok, "OK"))
        case .rset:
            transaction = nil
            return .send(Reply(250, .ok, "OK"))
        case .vrfy:
            // RFC 5321 §3.5.3: 252 when the server will not say whether a user exists.
            return .send(Reply(252, .protocolOK, "Cannot VRFY user, but will accept message and attempt delivery"))
        case .expn:
            return badCommand(Reply(502, .invalidCommand, "EXPN not supported"))
        case .help:
            return .send(Reply(214, .ok, "Commands: LHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"))
        case .unknown:
            return badCommand(Reply(500, .syntaxError, "Command not recognised"))
        case .mail(let from, let parameters):
            guard greeted else { return badCommand(Reply(503, .invalidCommand, "Send LHLO first")) }
            guard transaction == nil else { return badCommand(Reply(503, .invalidCommand, "Nested MAIL command")) }
            if let size = parameters.size, size > limits.maximumMessageSize {
                // RFC 1870 §6.1: a declared size over the fixed maximum gets 552.
                return .send(Reply(552, .messageTooBig, "Message size exceeds fixed maximum message size"))
            }
            transaction = Transaction(reversePath: from, parameters: parameters)
            return .send(Reply(250, .senderValid, "OK"))
        case .rcpt(let mailbox):
            guard let transaction else { return badCommand(Reply(503, .invalidCommand, "Need MAIL before RCPT")) }
            guard transaction.recipients.count < limits.maximumRecipients else {
                // RFC 5321 §4.5.3.1.10: 452, and the client sends the rest in another transaction.
                return .send(Reply(452, .tooManyRecipients, "Too many recipients"))
            }
            state = .checkingRecipient(mailbox)
            return .checkRecipient(mailbox)
        case .data:
            guard let transaction else { return badCommand(Reply(503, .invalidCommand, "Need MAIL command")) }
            guard !transaction.recipients.isEmpty else {
                // RFC 2033 §4.2: "when there have been no successful RCPT commands in the mail
                // transaction, the DATA command MUST fail with a 503 reply code." Not counted
                // as a client error: a pipelining client sends DATA before it sees RCPT fail.
                return .send(Reply(503, .invalidCommand, "No valid recipients"))
            }
            reception = MessageReception()
            state = .receivingData
            return .send(Reply(354, nil, "Start mail input; end with <CRLF>.<CRLF>"))
        }
    }

    /// The reply for a line that does not parse (RFC 5321 §4.2.4, RFC 3463 §3.6).
    static func reply(for error: CommandSyntaxError) -> Reply {
        switch error.kind {
        case .invalidCharacter: Reply(500, .syntaxError, "Invalid character in command")
        case .syntax: Reply(501, .invalidArguments, error.hint)
        case .badSender: Reply(501, .badSenderSyntax, error.hint)
        case .badRecipient: Reply(501, .badDestinationSyntax, error.hint)
        case .unsupportedParameter: Reply(555, .invalidArguments, error.hint)
        }
    }
}
