/// Errors the mailbox reports to its user; descriptions are meant to be printed.
public enum MailboxError: Error, CustomStringConvertible, Sendable, Equatable {
    /// No message has this ID.
    case unknownID(String)
    /// The ID prefix fits several messages.
    case ambiguousID(String, candidates: [String])
    /// A file name that is not a plain Maildir file reference.
    case invalidFileName(String)
    /// The path is neither a Maildir nor an mbox file.
    case notAStore(String)
    /// The search query cannot be read.
    case invalidQuery(String)
    /// A SHA-256 digest that is not 64 hexadecimal digits (or 32 octets).
    case invalidDigest(String)
    /// The output file exists and would be overwritten.
    case outputExists(String)
    /// The message file disappeared between listing and reading.
    case messageVanished(String)

    public var description: String {
        switch self {
        case .unknownID(let id): return "no message with ID '\(id)'"
        case .ambiguousID(let id, let candidates):
            return "ID '\(id)' is ambiguous; it matches \(candidates.joined(separator: ", "))"
        case .invalidFileName(let name): return "not a Maildir file name: '\(name)'"
        case .notAStore(let path): return "\(path) is not a Maildir (cur/, new/) or an mbox file"
        case .invalidQuery(let reason): return "invalid search query: \(reason)"
        case .invalidDigest(let digest): return "not a SHA-256 digest: '\(digest)'"
        case .outputExists(let path): return "\(path) exists (use --force to overwrite or --append)"
        case .messageVanished(let name): return "message file \(name) disappeared; run the command again"
        }
    }
}
