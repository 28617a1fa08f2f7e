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

/// What a delivery target can do. The executor asks these questions instead of testing types.
struct DeliveryCapabilities: Hashable, Sendable {
    /// It finds a copy an interrupted run stored under a message's key (`existingLocation(of:)`),
    /// so a rerun records that copy instead of storing the message again.
    var findsEarlierCopies: Bool
    /// It tells which copies are there now (`presentKeys()`): for "delete on the server once
    /// deleted here", and to recognise a message that was missing from one listing.
    var tellsWhetherCopiesRemain: Bool
    /// A new copy replaces an earlier one under the same key, never leaving neither (Maildir:
    /// the new file is renamed into place, then the old name removed). Otherwise an earlier
    /// copy stays beside the new one (mbox entries are not rewritten; a command keeps what it got).
    var replacesCopies: Bool
    /// Handing a message over cannot be checked afterwards (a command): the state records the
    /// hand-over before it happens, so a rerun after a crash knows it may be a duplicate.
    var recordsHandOver: Bool
    /// A failure to store one message says nothing about the next (a command refusing one
    /// message); otherwise the first failure ends the account's downloads (a full disk).
    var failuresArePerMessage: Bool

    /// Files the target owns and can look through (Maildir, mbox).
    static let files = DeliveryCapabilities(
        findsEarlierCopies: true,
        tellsWhetherCopiesRemain: true,
        replacesCopies: false,
        recordsHandOver: false,
        failuresArePerMessage: false
    )
}

/// One run's view of a delivery target. Used by one task at a time, from blocking code (the
/// executor's `StoreWorker`, on NIO's blocking pool).
protocol Deliverer: AnyObject {
    /// What this target can do.
    var capabilities: DeliveryCapabilities { get }
    /// A copy stored earlier under this key (an interrupted run stored it but did not record it),
    /// as a location string; nil when there is none or the target cannot tell (MDA).
    func existingLocation(of key: DeliveryKey) throws -> String?
    /// Starts storing a message. `replacing` completes a headers-only copy or replaces a short one.
    func makeWriter(for envelope: DeliveryEnvelope, replacing: Bool) throws -> any MessageWriter
    /// The keys (`DeliveryKey.hash`) of the copies present now, from one look at the target;
    /// empty when it cannot tell (`capabilities.tellsWhetherCopiesRemain` is false).
    func presentKeys() throws -> Set<String>
    /// Whether the copy at `location` (from `existingLocation(of:)`) holds only the header
    /// (`X-PostOffice-Headers-Only`); true when it cannot tell.
    func isHeadersOnlyCopy(at location: String) -> Bool
    /// Makes every `commit()` since the last call durable (a Maildir fsyncs `new/` once for a
    /// whole group of messages). A target whose commits are durable by themselves does nothing.
    func syncCommitted() throws
}

extension Deliverer {
    func syncCommitted() throws {}
}

/// Streams one message to a temporary place, then makes it visible.
protocol MessageWriter: AnyObject {
    /// Appends message bytes as the server sent them (CRLF line ends, un-stuffed).
    func write(_ chunk: ByteBuffer) throws
    /// Ends the content and starts writing it to the disk without waiting, so a group's files
    /// reach the disk together before each is `sync()`ed. Optional: `sync()` ends it too.
    func endContent() throws
    /// Finishes the temporary copy and makes it durable (`fsync`).
    func sync() throws
    /// Makes the message visible (rename into `new/`, append to the mbox, run the MDA); returns
    /// its location. Durable once the deliverer's `syncCommitted()` returns.
    func commit() throws -> String
    /// Abandons the temporary copy (on an error that is not a crash).
    func discard()
    /// SHA-256 of the stored file's bytes, for targets that store files (Maildir); after `sync()`.
    var contentDigest: [UInt8]? { get }
}

extension MessageWriter {
    var contentDigest: [UInt8]? { nil }
    func endContent() throws {}
}
