// LMTPCore: what the LMTP session asks its I/O shell to do, and what the shell reports back.
public import struct NIOCore.ByteBuffer

extension LMTPServerSession {
    /// One instruction for the I/O shell. The shell performs it; the outcome of slow work goes
    /// back through ``LMTPServerSession/recipientChecked(_:)`` or
    /// ``LMTPServerSession/deliveryFinished(_:)``, after which the shell asks for the next
    /// action with ``LMTPServerSession/next(input:)``.
    public enum Action: Hashable, Sendable {
        /// Nothing to do until more input arrives. The shell sends the replies it holds now
        /// (RFC 2920 §3.2: a server flushes before it waits for input).
        case readMore
        /// Write this reply and ask for the next action.
        case send(Reply)
        /// Find the account this recipient belongs to (trying
        /// ``Mailbox/candidateUsers`` in order), then call
        /// ``LMTPServerSession/recipientChecked(_:)``. Send pending replies first: this may
        /// take a moment (RFC 2033 §5).
        case checkRecipient(Mailbox)
        /// Store the message for one account, then call
        /// ``LMTPServerSession/deliveryFinished(_:)``. Send pending replies first, so the
        /// client sees each recipient's reply as soon as it is known (RFC 2033 §5).
        case deliver(DeliveryRequest)
        /// Write this reply, then close the connection.
        case sendAndClose(Reply)
        /// Close the connection at once.
        case close
    }

    /// One accepted recipient of the current transaction.
    public struct AcceptedRecipient: Hashable, Sendable {
        /// The address as given in RCPT TO.
        public var mailbox: Mailbox
        /// The account it belongs to.
        public var user: String

        public init(mailbox: Mailbox, user: String) {
            self.mailbox = mailbox
            self.user = user
        }
    }

    /// A message to store for one account.
    public struct DeliveryRequest: Hashable, Sendable {
        /// The account (the Maildir's `%u`).
        public var user: String
        /// The first recipient of the transaction that belongs to this account: its address
        /// goes into `Delivered-To:`.
        public var recipient: Mailbox
        /// MAIL FROM's path: it goes into `Return-Path:`.
        public var reversePath: ReversePath
        /// The message as received, dot-unstuffing undone, with CRLF line ends.
        public var message: ByteBuffer

        public init(user: String, recipient: Mailbox, reversePath: ReversePath, message: ByteBuffer) {
            self.user = user
            self.recipient = recipient
            self.reversePath = reversePath
            self.message = message
        }
    }

    /// What the shell found for a recipient.
    public enum RecipientCheck: Hashable, Sendable {
        /// The recipient belongs to this account.
        case found(user: String)
        /// No account has this address: `550 5.1.1`.
        case notFound
        /// The account database could not be read now: `451 4.3.0`, the client tries later.
        case temporaryFailure
    }

    /// How storing the message for one account went.
    public enum DeliveryOutcome: Hashable, Sendable {
        /// Stored durably: `250 2.0.0`. From now on losing it would break RFC 2033 §4.2.
        case stored
        /// The write failed (I/O error): `451 4.3.0`, the client keeps the message and retries.
        case temporaryFailure
        /// No space left: `452 4.3.1`, the client keeps the message and retries.
        case storageFull
        /// The account cannot receive mail (it vanished, or its name is unusable): `550 5.1.1`.
        case noSuchUser
    }
}
