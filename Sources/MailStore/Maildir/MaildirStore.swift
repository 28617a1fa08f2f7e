// The Maildir store: Dovecot/Courier-compatible Maildirs served as they are (DESIGN.md).

public import FileIO
public import MailCore
import SystemPackage

/// A `MailStore` over one Maildir per user, at a path made from a template.
///
/// The maildrop is the Maildir's `new/` and `cur/`; Maildir++ subfolders (`.Foo/`), dotfiles
/// and `tmp/` are not part of it. Files are never renamed: sizes come from `,W=` in the name
/// when present (Dovecot's CRLF size), else are counted once and kept in the size cache
/// `postoffice-sizes` in the Maildir root. The lock file `postoffice.lock` lives there too (see
/// `MaildropLease` for the locking and takeover rules). A missing Maildir is created (empty)
/// on open and on delivery. As maildir(5) asks of readers, opening also removes files left in
/// `tmp/` that nobody has read or written for 36 hours.
///
/// The store keeps the listings of the maildrops it opened (`MaildirListingCache`): a login
/// to a maildrop whose `new/` and `cur/` did not change lists neither, and one that changed lists
/// only the changed directory and parses only its new names. Copies of a store share the cache.
public struct MaildirStore: MailStore {
    /// Where each user's Maildir is.
    public let template: MaildirPathTemplate
    /// How long a session may be silent before a new login may take its maildrop over.
    public let takeoverAfter: Duration
    /// The host name written into new unique names.
    public let hostname: String
    /// What each lock file's descriptor counts against (`MaildropLease`).
    public let descriptorBudget: DescriptorBudget
    /// The listings of maildrops opened through this store (and its copies).
    let listingCache: MaildirListingCache

    /// A store at `template` (for example `/var/mail/%u/Maildir`; see `MaildirPathTemplate`).
    ///
    /// - Parameters:
    ///   - takeoverAfter: silence after which a session's maildrop may be taken over; must be
    ///     positive. 60 seconds by default.
    ///   - hostname: the host part of new unique names; the system host name by default.
    ///   - descriptorBudget: what the maildrops' lock files count against; the process's by
    ///     default, which a server limits to its descriptors when it starts.
    public init(
        template: String,
        takeoverAfter: Duration = .seconds(60),
        hostname: String? = nil,
        descriptorBudget: DescriptorBudget = .shared
    ) throws(MaildirPathTemplate.InvalidTemplate) {
        self.init(
            template: try MaildirPathTemplate(template),
            takeoverAfter: takeoverAfter,
            hostname: hostname,
            descriptorBudget: descriptorBudget
        )
    }

    /// A store at a parsed template.
    public init(
        template: MaildirPathTemplate,
        takeoverAfter: Duration = .seconds(60),
        hostname: String? = nil,
        descriptorBudget: DescriptorBudget = .shared
    ) {
        self.init(
            template: template,
            takeoverAfter: takeoverAfter,
            hostname: hostname,
            descriptorBudget: descriptorBudget,
            listingCache: MaildirListingCache()
        )
    }

    /// A store with a listing cache of its own making (tests bound it or move its clock).
    init(
        template: MaildirPathTemplate,
        takeoverAfter: Duration,
        hostname: String?,
        descriptorBudget: DescriptorBudget = .shared,
        listingCache: MaildirListingCache
    ) {
        precondition(takeoverAfter > .zero, "takeoverAfter must be positive")
        self.template = template
        self.takeoverAfter = takeoverAfter
        self.hostname = hostname ?? SystemIdentity.hostName()
        self.descriptorBudget = descriptorBudget
        self.listingCache = listingCache
        // A connection that takes the process past its budget gets its descriptor back from
        // the silent sessions' lock files.
        descriptorBudget.onOverdraft { [weak descriptorBudget] _ in
            guard let descriptorBudget else { return }
            LeaseWatchdog.shared.releaseSoon(budget: descriptorBudget)
        }
    }

    /// The Maildir path of `user`; throws `.noSuchUser` for a name unfit for a path.
    public func maildirPath(for user: String) throws(MailStoreError) -> String {
        try self.template.path(for: user)
    }

    /// Every message of `user`'s Maildir with the UIDL `openMaildrop` gives it, where it is
    /// (`new/`, or `cur/` with its flags) and its modification time, without taking the
    /// maildrop's lock: what a copy to another store keeps besides the bytes. Empty when there is
    /// no Maildir. Blocking: run it through `BlockingIO`.
    public func entries(user: String) throws -> [MaildirEntry] {
        let maildir = Maildir(path: try self.maildirPath(for: user))
        guard maildir.looksLikeMaildir else { return [] }
        return try MailStoreError.mapping {
            let listing = try maildir.listMessages()
            let baseNames = Array(listing.keys)
            // The same mapping the snapshot uses; it depends only on the set of names.
            let ids = UniqueIDMapper.uniqueIDs(for: baseNames)
            return try zip(baseNames, ids).compactMap { baseName, id in
                let location = listing[baseName]!  // safe: the names are the listing's keys
                // A message a reader removed since the listing is left out.
                guard let status = try FileSystem.status(maildir.path(of: location)) else { return nil }
                return MaildirEntry(
                    uniqueID: UniqueID(unchecked: id),
                    location: location,
                    modificationTime: status.modification
                )
            }
        }
    }

    /// Locks and snapshots `user`'s Maildir, creating it if missing. Throws `.inUse` when
    /// another session holds it, `.noSuchUser` for an invalid name, `.io` on file-system errors.
    public func openMaildrop(user: String) async throws -> any Maildrop {
        try await self.openMaildirMaildrop(user: user)
    }

    func openMaildirMaildrop(user: String) async throws -> MaildirMaildrop {
        let path = try self.maildirPath(for: user)
        let maildir = Maildir(path: path)
        let takeoverAfter = self.takeoverAfter
        let budget = self.descriptorBudget
        let cache = self.listingCache
        return try await BlockingIO.run {
            try MailStoreError.mapping {
                // A Maildir this store listed before exists (a lease or scan that finds it
                // gone creates it, as the first open does).
                let cached = cache.entry(for: path)
                if cached == nil {
                    try maildir.create()
                }
                let lease = try Self.withMaildir(maildir, creatingIf: cached != nil) {
                    try MaildropLease.acquire(
                        lockPath: maildir.root.appending(MaildropLockFile.fileName),
                        takeoverAfter: takeoverAfter,
                        budget: budget
                    )
                }
                do {
                    // Under the lease: no other session of this maildrop lists or deletes meanwhile.
                    var scan: MaildirScan
                    do {
                        scan = try MaildirScanner.scan(maildir, previous: cached?.listing, now: cache.now)
                    } catch let error as FileIOError where error.isNotFound && cached != nil {
                        // Gone since the listing was kept: created again, and empty.
                        try maildir.create()
                        scan = try MaildirScanner.scan(maildir, previous: nil, now: cache.now)
                    }
                    let temporary = Self.cleanTemporaryFiles(maildir, known: cached?.listing.temporary, now: cache.now)
                    let unchanged = scan.isUnchanged && temporary == cached?.listing.temporary
                    scan.listing.temporary = temporary
                    let generation = unchanged ? cached?.generation : cache.store(scan.listing, for: path)
                    // The session's silence starts when it has its maildrop, not when the scan began.
                    _ = try lease.recordActivity()
                    return MaildirMaildrop(
                        maildir: maildir,
                        scan: scan,
                        lease: lease,
                        cache: generation.map { (cache, path, $0) }
                    )
                } catch {
                    lease.close()
                    throw error
                }
            }
        }
    }

    /// Runs `body`; when `retrying` and it finds the Maildir gone, creates it and runs it again.
    private static func withMaildir<Result>(
        _ maildir: Maildir,
        creatingIf retrying: Bool,
        _ body: () throws -> Result
    ) throws -> Result {
        do {
            return try body()
        } catch let error as FileIOError where retrying && error.isNotFound {
            try maildir.create()
            return try body()
        }
    }

    /// Removes stale files from `tmp/` unless `known` (its state when an earlier open found
    /// nothing to clean) vouches that it still has nothing; creates `tmp/` when it is missing.
    /// Returns the state to keep: `tmp/` as found now when nothing is left to clean there.
    private static func cleanTemporaryFiles(
        _ maildir: Maildir,
        known: MaildirListing.DirectoryState?,
        now: () -> FileTime
    ) -> MaildirListing.DirectoryState? {
        let time = now()
        guard let status = try? FileSystem.status(maildir.temporaryDirectory) else {
            try? maildir.create()
            return nil
        }
        let stamp = FileStamp(status)
        if let known, known.vouches(for: stamp) {
            return known
        }
        guard maildir.cleanTemporaryFiles(now: time) else { return nil }
        return MaildirListing.DirectoryState(stamp: stamp, settled: stamp.isSettled(at: time))
    }

    /// Delivers `message` into `user`'s `new/` (see `Maildir.deliver(_:hostname:)`), creating
    /// the Maildir if needed. Returns the new file's name. The caller checks that the user
    /// exists (the store cannot know accounts).
    public func deliver(user: String, message: [UInt8]) async throws -> String {
        let maildir = Maildir(path: try self.maildirPath(for: user))
        let hostname = self.hostname
        return try await BlockingIO.run {
            try MailStoreError.mapping { try maildir.deliver(message, hostname: hostname).name.description }
        }
    }
}

extension MailStoreError {
    /// Runs `body`, turning a file-system error into `.io` with its description (operation,
    /// path and errno text), as the `MailStore` contract promises.
    static func mapping<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as FileIOError {
            throw MailStoreError.io(error.description)
        }
    }
}

/// One message of a Maildir as ``MaildirStore/entries(user:)`` lists it.
public struct MaildirEntry: Hashable, Sendable {
    /// The UIDL the Maildir store gives it.
    public var uniqueID: UniqueID
    /// Where it is: `new/`, or `cur/` with the flags a reader gave it.
    public var location: MaildirLocation
    /// Its modification time: when it was delivered, for a message no one rewrote.
    public var modificationTime: FileTime

    public init(uniqueID: UniqueID, location: MaildirLocation, modificationTime: FileTime) {
        self.uniqueID = uniqueID
        self.location = location
        self.modificationTime = modificationTime
    }
}
