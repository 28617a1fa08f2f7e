// POP3Core: every protocol limit in one place (GUIDE B4).

/// Limits that keep hostile or broken peers from using unbounded memory or time.
/// Each default names its source.
public struct POP3Limits: Hashable, Sendable {
    /// Longest command line, CRLF included. Default 255: RFC 2449 §4 ("The maximum length
    /// of a command is increased ... to 255 octets, including the terminating CRLF"); it
    /// also bounds an AUTH initial response (RFC 5034 §4). A longer line gets `-ERR` and the
    /// session goes on with the next line.
    public var maximumCommandLineLength: Int

    /// Longest SASL continuation line, CRLF included. Default 8 KiB: RFC 5034 sets no 255-octet
    /// limit on continuation lines, and OAUTHBEARER tokens are long.
    public var maximumSASLResponseLineLength: Int

    /// Longest first line of a response, CRLF included, a server sends. Default 512:
    /// RFC 2449 §4. (Clients should accept more and still cap it.)
    public var maximumResponseLineLength: Int

    /// Bytes of input a server buffers for one connection before it stops reading from the
    /// socket. Default 64 KiB: several maximal lines plus one socket read.
    public var maximumBufferedInputBytes: Int

    /// Commands that fail to parse, are unknown or are not valid in the current state before
    /// the server closes the connection. Default 20 (our choice: a real client needs a few).
    public var maximumBadCommands: Int

    /// Commands accepted before a successful login. Default 50 (our choice), against endless
    /// `USER` or `CAPA` loops by an unauthenticated peer.
    public var maximumUnauthenticatedCommands: Int

    /// Failed logins on one connection before it is closed. Default 3 (our choice).
    public var maximumAuthFailures: Int

    /// Steps (challenges) in one SASL exchange. Default 10: SCRAM needs 3, LOGIN 2.
    public var maximumSASLSteps: Int

    /// Seconds without a complete command line before the server closes the connection
    /// without entering UPDATE. Default 600: RFC 1939 §3 ("at least 10 minutes").
    public var idleTimeoutSeconds: Int

    public init(
        maximumCommandLineLength: Int = 255,
        maximumSASLResponseLineLength: Int = 8192,
        maximumResponseLineLength: Int = 512,
        maximumBufferedInputBytes: Int = 65536,
        maximumBadCommands: Int = 20,
        maximumUnauthenticatedCommands: Int = 50,
        maximumAuthFailures: Int = 3,
        maximumSASLSteps: Int = 10,
        idleTimeoutSeconds: Int = 600
    ) {
        self.maximumCommandLineLength = maximumCommandLineLength
        self.maximumSASLResponseLineLength = maximumSASLResponseLineLength
        self.maximumResponseLineLength = maximumResponseLineLength
        self.maximumBufferedInputBytes = maximumBufferedInputBytes
        self.maximumBadCommands = maximumBadCommands
        self.maximumUnauthenticatedCommands = maximumUnauthenticatedCommands
        self.maximumAuthFailures = maximumAuthFailures
        self.maximumSASLSteps = maximumSASLSteps
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }

    /// The longest line the line framer lets through: the larger of the command and SASL limits.
    public var maximumLineLength: Int { max(maximumCommandLineLength, maximumSASLResponseLineLength) }
}
