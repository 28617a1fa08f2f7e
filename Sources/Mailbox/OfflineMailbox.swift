import FileIO
import MailStore
import SystemPackage

/// The offline mailbox: a Maildir (with Maildir++ folders) or an mbox file, plus its
/// full-text index. The store is the source of truth; the index beside it is a cache that
/// every operation first brings up to date (cheaply: directory mtimes, then names and sizes).
///
/// All methods block on file I/O; call them off any event loop.
public final class OfflineMailbox {
    /// Where the mail is.
    public enum Store: Sendable, Equatable {
        /// A Maildir root (`cur/`, `new/`, `tmp/`, Maildir++ `.Folder/`s).
        case maildir(String)
        /// An mbox file (mboxrd quoting is undone on reading).
        case mbox(String)

        /// The store at `path`: a directory is a Maildir, a regular file an mbox.
        public static func detect(_ path: String) throws -> Store {
            guard let status = try? FileSystem.status(FilePath(path)) else { throw MailboxError.notAStore(path) }
            if status.isDirectory {
                guard Maildir(path: path).looksLikeMaildir else { throw MailboxError.notAStore(path) }
                return .maildir(path)
            }
            return .mbox(path)
        }
    }

    /// The index file's name inside a Maildir.
    public static let maildirIndexName = ".postoffice-index.sqlite"

    public let store: Store
    /// Where the index lives: `<maildir>/.postoffice-index.sqlite`, or for an mbox file
    /// `.<name>.postoffice-index.sqlite` beside it.
    public let indexPath: String
    let index: MailIndex

    /// Opens a store and its index (creating the index if needed). Throws
    /// ``MailboxError/notAStore(_:)`` when the path is not a Maildir or a regular file.
    public init(store: Store, indexPath: String? = nil) throws {
        switch store {
        case .maildir(let root):
            guard FileSystem.isDirectory(FilePath(root)), Maildir(path: root).looksLikeMaildir else {
                throw MailboxError.notAStore(root)
            }
        case .mbox(let path):
            guard (try? FileSystem.status(FilePath(path)))?.isRegularFile == true else {
                throw MailboxError.notAStore(path)
            }
        }
        self.store = store
        let path = indexPath ?? Self.defaultIndexPath(for: store)
        self.indexPath = path
        self.index = try MailIndex(path: path)
    }

    /// The index path used when none is given.
    public static func defaultIndexPath(for store: Store) -> String {
        switch store {
        case .maildir(let root): return root.hasSuffix("/") ? root + maildirIndexName : root + "/" + maildirIndexName
        case .mbox(let path): return sidecarPath(forMbox: path, suffix: "postoffice-index.sqlite")
        }
    }

    static func sidecarPath(forMbox path: String, suffix: String) -> String {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        let name = components.last.map(String.init) ?? path
        let directory = components.dropLast().joined(separator: "/")
        let file = ".\(name).\(suffix)"
        if components.count == 1 { return file }
        return directory.isEmpty ? "/" + file : directory + "/" + file
    }

    // MARK: Index upkeep

    /// Notices messages added, moved or removed by any program since the last call.
    @discardableResult
    public func synchronize(force: Bool = false) throws -> SyncReport {
        switch store {
        case .maildir(let root): return try index.synchronizeMaildir(root: root, force: force)
        case .mbox(let path): return try index.synchronizeMbox(path: path, force: force)
        }
    }

    /// Throws the index away and builds it again from the store.
    @discardableResult
    public func reindex() throws -> SyncReport {
        try index.clear()
        return try synchronize(force: true)
    }

    // MARK: Reading

    /// Messages newest first, in one folder (`""` the root, nil all).
    public func list(folder: String? = nil, limit: Int? = nil) throws -> [MessageSummary] {
        try synchronize()
        return try index.search(SearchQuery(terms: []), folder: folder, limit: limit)
    }

    /// Messages matching `query`, newest first.
    public func search(_ query: SearchQuery, folder: String? = nil, limit: Int? = nil) throws -> [MessageSummary] {
        try synchronize()
        return try index.search(query, folder: folder, limit: limit)
    }

    /// The message with this ID (or any unique digest prefix of 4 or more hex digits).
    /// Throws ``MailboxError/unknownID(_:)`` or ``MailboxError/ambiguousID(_:candidates:)``.
    public func summary(id: String) throws -> MessageSummary {
        try synchronize()
        return try index.resolve(id)
    }

    /// The message exactly as stored (mbox quoting undone).
    public func rawMessage(_ summary: MessageSummary) throws -> [UInt8] {
        switch (store, summary.location) {
        case (.maildir(let root), .maildir(let folder, let subdirectory, let fileName)):
            // Found again by unique name if another program renamed it since the last look.
            let reference = try MaildirFileReference(
                maildir: root,
                fileName: (folder.isEmpty ? "" : ".\(folder)/") + subdirectory + "/" + fileName
            )
            guard let location = reference.locate(),
                let (bytes, _) = try FileSystem.readFileIfExists(reference.maildir.path(of: location))
            else { throw MailboxError.messageVanished(fileName) }
            return bytes
        case (.mbox(let path), .mbox(let offset, let length)):
            let file = try File.open(FilePath(path), .readOnly)
            defer { file.closeQuietly() }
            return Mbox.unquote(try file.read(count: length, at: offset))
        default:
            throw MailboxError.unknownID(summary.id)
        }
    }

    /// The parsed message.
    public func message(_ summary: MessageSummary) throws -> Message {
        MessageParser.parse(try rawMessage(summary))
    }
}
