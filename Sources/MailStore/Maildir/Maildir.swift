// One Maildir on disk (maildir(5)): `tmp/`, `new/` and `cur/` under a root, plus Maildir++
// folders (`.Name/`, as Courier and Dovecot keep them). Listing, finding a renamed message and
// the tmp/ cleanup live here; delivery is in Maildir+Delivery.swift. Every call blocks: run it
// through `BlockingIO`, one hop per operation.

public import FileIO
public import SystemPackage

/// The two Maildir subdirectories that hold messages (maildir(5)).
public enum MaildirSubdirectory: String, Sendable, CaseIterable {
    case new
    case cur
}

/// Where a message file is: its subdirectory and its full name (base name plus info).
public struct MaildirLocation: Hashable, Sendable {
    public var subdirectory: MaildirSubdirectory
    public var name: MaildirFilename

    public init(subdirectory: MaildirSubdirectory, name: MaildirFilename) {
        self.subdirectory = subdirectory
        self.name = name
    }

    /// The base name: the file name up to its first `:`.
    public var baseName: ArraySlice<UInt8> { self.name.baseName }

    /// `new/NAME` or `cur/NAME`, relative to the Maildir root.
    public var relativePath: String { "\(self.subdirectory.rawValue)/\(self.name)" }
}

/// A Maildir at a root directory.
public struct Maildir: Hashable, Sendable {
    /// The directory holding `tmp/`, `new/` and `cur/`.
    public let root: FilePath
    /// `root/new`, `root/cur` and `root/tmp`, made once: a login stats them, and appending to a
    /// `FilePath` costs more than the stat's own instructions.
    private let newPath: FilePath
    private let curPath: FilePath
    /// `root/tmp`.
    public let temporaryDirectory: FilePath

    public init(root: FilePath) {
        self.root = root
        self.newPath = root.appending("new")
        self.curPath = root.appending("cur")
        self.temporaryDirectory = root.appending("tmp")
    }

    public init(path: String) {
        self.init(root: FilePath(path))
    }

    /// `root/new` or `root/cur`.
    public func path(of subdirectory: MaildirSubdirectory) -> FilePath {
        subdirectory == .new ? self.newPath : self.curPath
    }

    /// The path of a message file.
    public func path(of location: MaildirLocation) -> FilePath {
        self.path(of: location.subdirectory).appending(rawComponent: location.name.bytes)
    }

    // MARK: Layout

    /// Creates `cur/`, `new/` and `tmp/` (and the directories above) where missing, mode 0700.
    public func create() throws(FileIOError) {
        for subdirectory in ["cur", "new", "tmp"] {
            try FileSystem.createDirectories(self.root.appending(subdirectory))
        }
    }

    /// Whether the root has a `cur/` or `new/` directory.
    public var looksLikeMaildir: Bool {
        MaildirSubdirectory.allCases.contains { FileSystem.isDirectory(self.path(of: $0)) }
    }

    /// The Maildir++ folder `name` (without its leading dot): the Maildir at `root/.name`.
    public func folder(_ name: String) -> Maildir {
        name.isEmpty ? self : Maildir(root: self.root.appending("." + name))
    }

    /// The names of the Maildir++ folders (`.Name` directories holding a Maildir), without the
    /// dot, sorted by their bytes. Names that are not UTF-8 are left out.
    public func folderNames() throws(FileIOError) -> [String] {
        var names: [String] = []
        for entry in try FileSystem.entries(of: self.root) where entry.mayBeDirectory {
            guard entry.name.count > 1, entry.name[0] == UInt8(ascii: "."), entry.name != [0x2E, 0x2E],
                let name = String(validating: entry.name.dropFirst(), as: UTF8.self)
            else { continue }
            if self.folder(name).looksLikeMaildir {
                names.append(name)
            }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    // MARK: Listing

    /// The message files of one subdirectory, in the kernel's order: names starting with `.`
    /// are skipped (maildir(5)), as are entries `d_type` says are not files and names a Maildir
    /// cannot hold (see `MaildirFilename`).
    public func messages(in subdirectory: MaildirSubdirectory) throws(FileIOError) -> [MaildirFilename] {
        let directory = try Directory.open(self.path(of: subdirectory))
        defer { directory.close() }
        var names: [MaildirFilename] = []
        try directory.forEachEntry(skippingHidden: true) { name, kind in
            guard kind.mayBeRegularFile, let parsed = MaildirFilename(Array(name)) else { return }
            names.append(parsed)
        }
        return names
    }

    /// Every message of `new/` and `cur/`, by base name. `new/` is listed first: messages move
    /// only from `new/` to `cur/`, so one moved between the two listings is seen in `cur/` (and
    /// may be seen twice; the `cur/` entry wins), never missed.
    public func listMessages() throws(FileIOError) -> [ArraySlice<UInt8>: MaildirLocation] {
        var byBaseName: [ArraySlice<UInt8>: MaildirLocation] = [:]
        for subdirectory in MaildirSubdirectory.allCases {
            let names = try self.messages(in: subdirectory)
            byBaseName.reserveCapacity(byBaseName.count + names.count)
            for name in names {
                byBaseName[name.baseName] = MaildirLocation(subdirectory: subdirectory, name: name)
            }
        }
        return byBaseName
    }

    /// Finds a message by base name after another program renamed it (new flags) or moved it
    /// to `cur/`; `cur/` is searched first.
    public func locate(baseName: some Collection<UInt8>) throws(FileIOError) -> MaildirLocation? {
        for subdirectory in MaildirSubdirectory.allCases.reversed() {
            for name in try self.messages(in: subdirectory) where name.baseName.elementsEqual(baseName) {
                return MaildirLocation(subdirectory: subdirectory, name: name)
            }
        }
        return nil
    }

    /// Opens the message at `location` for reading; when it is gone, finds it again by base
    /// name. Returns the file and where it was found, or `nil` when the message no longer
    /// exists.
    public func openMessage(_ location: MaildirLocation) throws(FileIOError) -> (File, MaildirLocation)? {
        if let file = try File.openForReading(self.path(of: location)) {
            return (file, location)
        }
        guard let found = try self.locate(baseName: location.baseName),
            let file = try File.openForReading(self.path(of: found))
        else { return nil }
        return (file, found)
    }

    // MARK: tmp/

    /// Files in `tmp/` untouched (neither accessed nor modified) for this long are leftovers of
    /// failed deliveries: maildir(5) lets readers remove them after 36 hours.
    public static let temporaryFileLifetime = 36 * 60 * 60

    /// Removes stale files from `tmp/`; best effort, errors are ignored. Returns whether `tmp/`
    /// is left without a file this would ever remove (none, or only dotfiles): until it
    /// changes, there is nothing to clean.
    @discardableResult
    public func cleanTemporaryFiles(now: FileTime = .now()) -> Bool {
        guard let directory = try? Directory.open(self.temporaryDirectory) else { return false }
        defer { directory.close() }
        guard let entries = try? directory.entries(skippingHidden: true) else { return false }
        var remaining = 0
        for entry in entries where entry.mayBeRegularFile {
            guard let status = try? directory.status(of: entry.name), status.isRegularFile,
                max(status.access.seconds, status.modification.seconds) < now.seconds - Self.temporaryFileLifetime,
                (try? directory.remove(entry.name)) != nil
            else {
                remaining += 1
                continue
            }
        }
        return remaining == 0
    }
}
