// Errors of the fetch engine, classified for exit codes.
public import MailCore

/// The class of a failure, mapped to an exit code by the command line.
public enum FetchErrorKind: String, Hashable, Sendable, Codable, CaseIterable {
    /// The server refused the credentials, or the password could not be obtained.
    case authentication
    /// TLS could not be established or the certificate was not trusted.
    case tls
    /// Connecting failed, the connection dropped, a timeout, or the server misbehaved.
    case network
    /// Storing locally failed (disk full, permissions, an MDA command failed, state file).
    case localWrite
    /// Another run holds the account's lock.
    case locked
    /// The configuration is not usable.
    case configuration
    /// Anything else.
    case other

    /// The exit code for this kind (sysexits(3) values, so scripts can tell them apart):
    /// authentication 77 (`EX_NOPERM`), tls 76 (`EX_PROTOCOL`), network 69 (`EX_UNAVAILABLE`),
    /// localWrite 74 (`EX_IOERR`), locked 75 (`EX_TEMPFAIL`), configuration 78 (`EX_CONFIG`),
    /// other 70 (`EX_SOFTWARE`).
    public var exitCode: Int32 {
        switch self {
        case .authentication: return 77
        case .tls: return 76
        case .network: return 69
        case .localWrite: return 74
        case .locked: return 75
        case .configuration: return 78
        case .other: return 70
        }
    }
}

/// A failure of an account's run, or of one message in it.
public struct FetchFailure: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    public var kind: FetchErrorKind
    /// A sentence a person understands. Never contains a password or message content.
    public var message: String
    /// The message concerned, when the failure is about one message.
    public var uniqueID: UniqueID?

    public init(kind: FetchErrorKind, message: String, uniqueID: UniqueID? = nil) {
        self.kind = kind
        self.message = message
        self.uniqueID = uniqueID
    }

    public var description: String {
        if let uniqueID {
            return "\(kind.rawValue): \(message) (message \(uniqueID))"
        }
        return "\(kind.rawValue): \(message)"
    }
}
