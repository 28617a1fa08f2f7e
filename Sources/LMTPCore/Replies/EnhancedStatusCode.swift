// LMTPCore: enhanced mail system status codes (RFC 3463), sent with every reply but the
// greeting and LHLO's (RFC 2034 §3; RFC 2033 §5 makes ENHANCEDSTATUSCODES a MUST for LMTP).

/// An enhanced status code `class.subject.detail` (RFC 3463 §2).
///
/// - SeeAlso: [RFC 3463](https://datatracker.ietf.org/doc/html/rfc3463),
///   [RFC 2034](https://datatracker.ietf.org/doc/html/rfc2034)
public struct EnhancedStatusCode: Hashable, Sendable, CustomStringConvertible {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    public var statusClass: Int
    public var subject: Int
    public var detail: Int

    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }

    // RFC 3463 §3, the codes this server sends.

    /// 2.0.0: other or undefined status, success.
    public static let ok = EnhancedStatusCode(2, 0, 0)
    /// 2.1.0: the sender address is valid.
    public static let senderValid = EnhancedStatusCode(2, 1, 0)
    /// 2.1.5: the destination address is valid.
    public static let destinationValid = EnhancedStatusCode(2, 1, 5)
    /// 2.5.0: other or undefined protocol status (VRFY's polite non-answer).
    public static let protocolOK = EnhancedStatusCode(2, 5, 0)
    /// 4.3.0: other or undefined mail system status, transient (a failed write, say).
    public static let mailSystemTemporary = EnhancedStatusCode(4, 3, 0)
    /// 4.3.1: mail system full (no space left).
    public static let mailSystemFull = EnhancedStatusCode(4, 3, 1)
    /// 4.3.2: system not accepting network messages (shutting down).
    public static let notAccepting = EnhancedStatusCode(4, 3, 2)
    /// 4.4.2: bad connection (idle timeout).
    public static let badConnection = EnhancedStatusCode(4, 4, 2)
    /// 4.5.3: too many recipients.
    public static let tooManyRecipients = EnhancedStatusCode(4, 5, 3)
    /// 4.7.0: other or undefined security status (a client that misbehaves too often).
    public static let securityTemporary = EnhancedStatusCode(4, 7, 0)
    /// 5.1.1: bad destination mailbox address (no such user).
    public static let badDestinationMailbox = EnhancedStatusCode(5, 1, 1)
    /// 5.1.3: bad destination mailbox address syntax.
    public static let badDestinationSyntax = EnhancedStatusCode(5, 1, 3)
    /// 5.1.7: bad sender's mailbox address syntax.
    public static let badSenderSyntax = EnhancedStatusCode(5, 1, 7)
    /// 5.3.4: message too big for system.
    public static let messageTooBig = EnhancedStatusCode(5, 3, 4)
    /// 5.5.1: invalid command (out of sequence, or not supported).
    public static let invalidCommand = EnhancedStatusCode(5, 5, 1)
    /// 5.5.2: syntax error (the command could not be interpreted, or is unrecognised).
    public static let syntaxError = EnhancedStatusCode(5, 5, 2)
    /// 5.5.4: invalid command arguments (a parameter we do not know).
    public static let invalidArguments = EnhancedStatusCode(5, 5, 4)
}
