// Listing a Maildir into a maildrop snapshot: `new/` then `cur/`, sizes from names or the
// size cache, message order by delivery time, unique-ids from base names.

import SystemPackage

/// The two Maildir subdirectories that hold messages (maildir(5)).
enum MaildirSubdirectory: String, Sendable, CaseIterable {
    case new
    case cur
}

/// Where a message file is: subdirectory and full file name (base name plus info).
struct MaildirLocation: Hashable, Sendable {
    var subdirectory: MaildirSubdirectory
    var fileName: [UInt8]

    func path(in root: RawPath) -> RawPath {
        root.appending(self.subdirectory.rawValue).appending(self.fileName)
    }

    /// The base name: the file name up to its first `:`.
    var baseName: [UInt8] { MaildirScanner.baseName(of: self.fileName) }
}

/// A maildrop as listed at open.
struct MaildirSnapshot: Sendable {
    struct Message: Sendable {
        var location: MaildirLocation
        var size: Int
        var uniqueID: String
    }

    var messages: [Message]
    /// Message files read to compute a size (neither `,W=` nor a valid cache entry).
    var sizesComputed: Int
    /// Sizes taken from the size cache.
    var sizesFromCache: Int
}

enum MaildirScanner {
    /// The base name: the file name up to its first `:`.
    static func baseName(of fileName: [UInt8]) -> [UInt8] {
        guard let colon = fileName.firstIndex(of: UInt8(ascii: ":")) else { return fileName }
        return Array(fileName[..<colon])
    }

    /// Lists `new/` and `cur/` of `root`: base name → location. `new/` is listed first: messages
    /// move only from `new/` to `cur/`, so one moved between the two listings is seen in `cur/`
    /// (and may be seen twice; the `cur/` entry wins), never missed.
    static func listMessages(root: RawPath) throws -> [[UInt8]: MaildirLocation] {
        var byBaseName: [[UInt8]: MaildirLocation] = [:]
        for subdirectory in MaildirSubdirectory.allCases {
            for entry in try Posix.listDirectory(root.appending(subdirectory.rawValue))
            where !entry.isCertainlyNotAFile {
                byBaseName[Self.baseName(of: entry.name)] = MaildirLocation(
                    subdirectory: subdirectory,
                    fileName: entry.name
                )
            }
        }
        return byBaseName
    }

    /// Finds a message by base name after it was renamed (new flags) or moved to `cur/`.
    static func locate(baseName: [UInt8], root: RawPath) throws -> MaildirLocation? {
        for subdirectory in MaildirSubdirectory.allCases.reversed() {
            for entry in try Posix.listDirectory(root.appending(subdirectory.rawValue))
            where Self.baseName(of: entry.name) == baseName {
                return MaildirLocation(subdirectory: subdirectory, fileName: entry.name)
            }
        }
        return nil
    }

    /// Snapshots the Maildir at `root` and refreshes its size cache.
    static func scan(root: RawPath) throws -> MaildirSnapshot {
        let listing = try Self.listMessages(root: root)
        var relisting: [[UInt8]: MaildirLocation]? = nil
        let oldCache = SizeCache.load(root: root)
        var newCache = SizeCache()
        var sizesComputed = 0
        var sizesFromCache = 0

        struct Found {
            var baseName: [UInt8]
            var location: MaildirLocation
            var size: Int
            var seconds: Int
            var microseconds: Int
            var deliveryCount: Int
        }
        var found: [Found] = []
        found.reserveCapacity(listing.count)

        for (baseName, listedLocation) in listing {
            var location = listedLocation
            let parsed = MaildirFilename(parsing: String(decoding: location.fileName, as: UTF8.self))
            let size: Int
            // A `,W=` is trusted only when it can be true: with CRLF line ends a file grows at
            // most to twice its size plus the final line end, and never shrinks. A name made up
            // to overflow the maildrop's total (`,W=999999999999999999`) is counted instead.
            if let virtualSize = parsed?.virtualSize, Self.isPlausible(virtualSize: virtualSize, size: parsed?.size) {
                size = virtualSize
            } else {
                var status = try Posix.status(location.path(in: root))
                if status == nil {
                    // Renamed (or deleted) since the listing: list again, once per scan.
                    if relisting == nil {
                        relisting = try Self.listMessages(root: root)
                    }
                    if let moved = relisting?[baseName] {
                        location = moved
                        status = try Posix.status(location.path(in: root))
                    }
                }
                guard let status, status.isRegularFile else { continue }
                if let cached = oldCache.crlfSize(of: baseName, status: status) {
                    size = cached
                    sizesFromCache += 1
                } else {
                    guard let counted = try Self.countCRLFSize(location.path(in: root)) else { continue }
                    size = counted
                    sizesComputed += 1
                }
                if SizeCache.canStore(baseName) {
                    newCache.entries[baseName] = SizeCache.Entry(
                        crlfSize: size,
                        fileSize: status.size,
                        modificationSeconds: status.modificationSeconds,
                        modificationNanoseconds: status.modificationNanoseconds
                    )
                }
            }
            found.append(
                Found(
                    baseName: baseName,
                    location: location,
                    size: size,
                    seconds: parsed?.seconds ?? -1,
                    microseconds: parsed?.microseconds ?? -1,
                    deliveryCount: parsed?.deliveryCount ?? -1
                )
            )
        }

        if newCache != oldCache {
            newCache.store(root: root)
        }

        // Delivery order: the leading seconds, then microseconds, then the delivery count, then
        // the base name's bytes (so the order is total and the same in every session).
        found.sort { a, b in
            if a.seconds != b.seconds { return a.seconds < b.seconds }
            if a.microseconds != b.microseconds { return a.microseconds < b.microseconds }
            if a.deliveryCount != b.deliveryCount { return a.deliveryCount < b.deliveryCount }
            return a.baseName.lexicographicallyPrecedes(b.baseName)
        }
        let ids = UniqueIDMapper.uniqueIDs(for: found.map(\.baseName))
        let messages = zip(found, ids).map { entry, id in
            MaildirSnapshot.Message(location: entry.location, size: entry.size, uniqueID: id)
        }
        return MaildirSnapshot(messages: messages, sizesComputed: sizesComputed, sizesFromCache: sizesFromCache)
    }

    /// Files in `tmp/` untouched (neither accessed nor modified) for this long are leftovers of
    /// failed deliveries: maildir(5) lets readers remove them after 36 hours.
    static let temporaryFileLifetime = 36 * 60 * 60

    /// Removes stale files from `tmp/`; best effort, errors are ignored.
    static func cleanTemporaryFiles(root: RawPath, now: Int) {
        let tmp = root.appending("tmp")
        guard let entries = try? Posix.listDirectory(tmp) else { return }
        for entry in entries where !entry.isCertainlyNotAFile {
            let path = tmp.appending(entry.name)
            guard let status = try? Posix.status(path), status.isRegularFile,
                max(status.accessSeconds, status.modificationSeconds) < now - Self.temporaryFileLifetime
            else { continue }
            _ = try? Posix.removeFile(path)
        }
    }

    /// Reads a file once and returns its CRLF size, or `nil` when it vanished.
    /// The largest size believed from a name without `,S=`: 1 TiB.
    static let maximumTrustedVirtualSize = 1 << 40

    static func isPlausible(virtualSize: Int, size: Int?) -> Bool {
        guard let size else { return virtualSize >= 0 && virtualSize <= maximumTrustedVirtualSize }
        return size >= 0 && size <= maximumTrustedVirtualSize && virtualSize >= size && virtualSize <= 2 * size + 2
    }

    static func countCRLFSize(_ path: RawPath) throws -> Int? {
        guard let fd = try Posix.openForReading(path) else { return nil }
        defer { try? fd.close() }
        var counter = CRLFSizeCounter()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let count = try Posix.read(fd, into: chunk, path: path)
            if count == 0 {
                return counter.size
            }
            counter.update(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
        }
    }
}
