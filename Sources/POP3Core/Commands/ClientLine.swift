// POP3Core: what a client line can be (RFC 1939 §3, RFC 5034 §4).

/// One line from a client: a command, or a line of an `AUTH` exchange.
///
/// A continuation line carries no keyword, so which kind a line is depends on the session
/// state: ``CommandParser`` is told which one to expect.
public enum ClientLine: Hashable, Sendable {
    /// A command.
    case command(Command)
    /// A SASL response to a `+ ` challenge, already base64-decoded (RFC 5034 §4).
    case saslResponse([UInt8])
    /// `*`: the client cancels the exchange; the server answers `-ERR` (RFC 5034 §4).
    case saslCancel
}

extension ClientLine {
    /// A form safe to log: SASL payloads show only their length.
    public var descriptionWithoutPII: String {
        switch self {
        case .command(let command): return command.descriptionWithoutPII
        case .saslResponse(let bytes): return "[SASL response, \(bytes.count) bytes]"
        case .saslCancel: return "*"
        }
    }
}
