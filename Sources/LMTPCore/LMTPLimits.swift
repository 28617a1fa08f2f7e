// LMTPCore: every LMTP protocol limit in one place (GUIDE B4).

/// Limits that keep a broken or hostile LMTP client from using unbounded memory or time.
/// Each default names its source.
///
/// LMTP is spoken by the local MTA (Postfix, RFC 2033 §5: "SHOULD NOT be used over wide area
/// networks"), so the defaults are generous for a well-behaved client and only stop abuse.
public struct LMTPLimits: Hashable, Sendable {
    /// Longest command line, CRLF included. Default 1024: RFC 5321 §4.5.3.1.4 sets 512 octets
    /// and lets extensions raise it; the MAIL parameters we take (RFC 1870 `SIZE=`,
    /// RFC 6152 `BODY=`) need at most a few dozen more, and we leave room for a maximal path
    /// (256 octets, RFC 5321 §4.5.3.1.3) with parameters. A longer line gets
    /// `500 5.5.2` and the session goes on with the next line.
    public var maximumCommandLineLength: Int

    /// Largest message accepted, in octets after dot-unstuffing (the message as it will be
    /// stored, CRLF line ends). Advertised as `SIZE` in the LHLO reply (RFC 1870 §4). A larger
    /// `MAIL FROM ... SIZE=` is refused at once, and a larger DATA is read to its end and then
    /// refused for every recipient with `552 5.3.4` (RFC 1870 §6.3, RFC 3463). Default 50 MiB:
    /// above Postfix's default `message_size_limit` (10,240,000), and the whole message is held
    /// in memory until it is stored.
    public var maximumMessageSize: Int

    /// Recipients accepted in one transaction. Default 100: RFC 5321 §4.5.3.1.8 ("The minimum
    /// total number of recipients that MUST be buffered is 100"). More get `452 4.5.3`
    /// (RFC 5321 §4.5.3.1.10), and the client sends them in a later transaction.
    public var maximumRecipients: Int

    /// Commands accepted before LHLO. Default 10 (our choice): a real client starts with
    /// LHLO (RFC 2033 §4.1); a peer that keeps sending something else is not one.
    public var maximumCommandsBeforeLHLO: Int

    /// Commands that fail (syntax errors, unknown commands, commands out of sequence, overlong
    /// lines) before the session is closed with `421 4.7.0`. Default 20 (our choice, as
    /// Postfix's `smtpd_hard_error_limit`).
    public var maximumBadCommands: Int

    /// Input bytes the server buffers for one connection while it works on a delivery or a
    /// recipient check (pipelined commands wait meanwhile) before it stops reading from the
    /// socket. Default 64 KiB: a full pipelined group of commands plus one socket read.
    public var maximumBufferedInputBytes: Int

    /// Seconds without input before the server closes the connection with `421 4.4.2`.
    /// Default 300: RFC 5321 §4.5.3.2.7 (the server timeout, "at least 5 minutes").
    public var idleTimeoutSeconds: Int

    public init(
        maximumCommandLineLength: Int = 1024,
        maximumMessageSize: Int = 50 * 1024 * 1024,
        maximumRecipients: Int = 100,
        maximumCommandsBeforeLHLO: Int = 10,
        maximumBadCommands: Int = 20,
        maximumBufferedInputBytes: Int = 65536,
        idleTimeoutSeconds: Int = 300
    ) {
        self.maximumCommandLineLength = maximumCommandLineLength
        self.maximumMessageSize = maximumMessageSize
        self.maximumRecipients = maximumRecipients
        self.maximumCommandsBeforeLHLO = maximumCommandsBeforeLHLO
        self.maximumBadCommands = maximumBadCommands
        self.maximumBufferedInputBytes = maximumBufferedInputBytes
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }
}
