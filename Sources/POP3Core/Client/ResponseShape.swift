// What a client expects back for the command it sent: POP3 responses do not say whether a
// body follows (RFC 2449 §3), so the client's state machine tells the parser.

/// The shape of the next response, known from the command it answers.
///
/// - SeeAlso: [RFC 2449 §3](https://datatracker.ietf.org/doc/html/rfc2449#section-3)
public enum ResponseShape: Hashable, Sendable {
    /// How the lines of a multi-line body are handed out.
    public enum Body: Hashable, Sendable {
        /// Listing lines (`LIST`, `UIDL`, `CAPA`), each capped in length, one part per line.
        case lines
        /// Message content (`RETR`, `TOP`): unstuffed bytes in chunks of any size, lines of any length.
        case content
    }

    /// A status line only (`STAT`, `DELE`, `LIST n`, the greeting, ...).
    case singleLine
    /// A status line, then a body ending in ".CRLF" if the status is `+OK`.
    case multiLineIfOK(Body)
    /// During `AUTH`: a `+ base64` continuation line, or the final status line (RFC 5034 §4).
    case saslContinuationOrFinal
}
