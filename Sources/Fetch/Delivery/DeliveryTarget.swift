// Where downloaded mail goes: Maildir (default), an mbox file, or an MDA command.
import NIOCore

/// The configured destination of an account.
public enum DeliveryTarget: Hashable, Sendable, Codable {
    /// A Maildir (`cur/ new/ tmp/`); created if missing.
    case maildir(path: String)
    /// An mbox file (mboxrd quoting), locked with `fcntl` while appending.
    case mbox(path: String)
    /// A command run by `/bin/sh -c` with the message on standard input; a non-zero exit
    /// status means "not delivered" (the message stays on the server).
    case mda(command: String)

    /// Parses the command line form `maildir:DIR`, `mbox:FILE` or `mda:COMMAND`.
    public init?(argument: String) {
        guard let colon = argument.firstIndex(of: ":") else { return nil }
        let kind = argument[..<colon]
        let value = String(argument[argument.index(after: colon)...])
        guard !value.isEmpty else { return nil }
        switch kind {
        case "maildir": self = .maildir(path: value)
        case "mbox": self = .mbox(path: value)
        case "mda": self = .mda(command: value)
        default: return nil
        }
    }

    /// Makes the deliverer for one run. `spoolDirectory` is where the MDA target spools messages
    /// (the state's directory).
    func makeDeliverer(spoolDirectory: String) throws -> any Deliverer {
        switch self {
        case .maildir(let path): return try MaildirDeliverer(path: path)
        case .mbox(let path): return try MboxDeliverer(path: path)
        case .mda(let command): return MDADeliverer(command: command, spoolDirectory: spoolDirectory)
        }
    }
}

/// One run's view of a delivery target. Not shared between tasks.
protocol Deliverer: AnyObject {
    /// A copy stored earlier under this key (an interrupted run stored it but did not record it),
    /// as a location string; nil when there is none or the target cannot tell (MDA).
    func existingLocation(of key: DeliveryKey) throws -> String?
    /// Starts storing a message. `replacing` completes a headers-only copy.
    func makeWriter(for envelope: DeliveryEnvelope, replacing: Bool) throws -> any MessageWriter
    /// Whether the copy recorded at `location` is still there (for `deleteWhenDeletedLocally`).
    /// Answers true when it cannot tell.
    func locationExists(_ location: String, key: DeliveryKey) -> Bool
    /// Whether the copy at `location` (from `existingLocation(of:)`) holds only the header
    /// (`X-PostOffice-Headers-Only`); true when it cannot tell.
    func isHeadersOnlyCopy(at location: String) -> Bool
}

/// Streams one message to a temporary place, then makes it visible.
protocol MessageWriter: AnyObject {
    /// Appends message bytes as the server sent them (CRLF line ends, un-stuffed).
    func write(_ chunk: ByteBuffer) throws
    /// Finishes the temporary copy and makes it durable (`fsync`).
    func sync() throws
    /// Makes the message visible (rename into `new/`, append to the mbox, run the MDA); returns
    /// its location.
    func commit() throws -> String
    /// Abandons the temporary copy (on an error that is not a crash).
    func discard()
    /// SHA-256 of the stored file's bytes, for targets that store files (Maildir); after `sync()`.
    var contentDigest: [UInt8]? { get }
}

extension MessageWriter {
    var contentDigest: [UInt8]? { nil }
}
