// LMTPCore: why a command line could not be parsed; the session turns it into a reply.

/// A command line that does not follow the grammar (RFC 5321 §4.1).
public struct CommandSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of mistake, which decides the reply (RFC 5321 §4.2.4, RFC 3463).
    public enum Kind: Hashable, Sendable {
        /// A NUL or another control character in the line: `500 5.5.2`.
        case invalidCharacter
        /// Arguments that do not parse: `501 5.5.4`.
        case syntax
        /// MAIL FROM's path does not parse: `501 5.1.7`.
        case badSender
        /// RCPT TO's path does not parse: `501 5.1.3`.
        case badRecipient
        /// A MAIL or RCPT parameter we do not implement: `555 5.5.4` (RFC 5321 §4.1.1.11).
        case unsupportedParameter
    }

    public var kind: Kind
    /// A short text for the reply; it never echoes the client's bytes.
    public var hint: String

    public init(_ kind: Kind, _ hint: String) {
        self.kind = kind
        self.hint = hint
    }

    public var description: String { hint }
}
