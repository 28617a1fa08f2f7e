// POP3Core: parse errors (GUIDE B8).

/// A line that does not fit the grammar. `hint` is safe to log and to send after `-ERR`:
/// it never contains the offending bytes.
public struct POP3ParserError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong, for the peer and the log.
    public var hint: String
    let file: String
    let line: Int

    public init(hint: String, file: String = #fileID, line: Int = #line) {
        self.hint = hint
        self.file = file
        self.line = line
    }

    public var description: String { "POP3ParserError: \(hint)" }

    public static func == (lhs: POP3ParserError, rhs: POP3ParserError) -> Bool { lhs.hint == rhs.hint }
    public func hash(into hasher: inout Hasher) { hasher.combine(hint) }
}

/// A line longer than the limit in force (RFC 2449 §4).
public struct ExceededLineLengthLimit: Error, Hashable, Sendable, CustomStringConvertible {
    /// Octets seen so far, CRLF included when it was seen.
    public var actual: Int
    public var maximum: Int

    public init(actual: Int, maximum: Int) {
        self.actual = actual
        self.maximum = maximum
    }

    public var description: String { "line of \(actual) octets exceeds \(maximum)" }
}
