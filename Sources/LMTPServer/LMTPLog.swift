// LMTPServer: the log lines operators rely on. Keep their format stable.
public import LMTPCore

/// Formats the delivery lines, one per account a message is stored for (never message content):
/// ```
/// delivered user=alice to=<alice@example.org> from=<bob@example.net> size=1834 file=1700000000.M1P2Q3.host,S=1834,W=1871
/// delivery failed user=alice to=<alice@example.org> from=<bob@example.net> reply=451 reason=write ...: No space left on device
/// recipient unknown to=<nobody@example.org>
/// ```
/// Addresses are as the client sent them (printable ASCII, checked by the parser).
public enum LMTPLog {
    public static func delivered(_ request: LMTPServerSession.DeliveryRequest, size: Int, file: String) -> String {
        "delivered user=\(request.user) to=<\(request.recipient.address)> from=\(request.reversePath) size=\(size) file=\(file)"
    }

    public static func deliveryFailed(_ request: LMTPServerSession.DeliveryRequest, reply: Int, reason: String)
        -> String
    {
        "delivery failed user=\(request.user) to=<\(request.recipient.address)> from=\(request.reversePath) reply=\(reply) reason=\(reason)"
    }

    public static func recipientUnknown(_ mailbox: Mailbox) -> String {
        "recipient unknown to=<\(mailbox.address)>"
    }

    public static func lookupFailed(_ mailbox: Mailbox, reason: String) -> String {
        "recipient lookup failed to=<\(mailbox.address)> reason=\(reason)"
    }
}
