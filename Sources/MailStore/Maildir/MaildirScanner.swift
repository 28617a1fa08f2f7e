// Listing a Maildir into a maildrop snapshot: `new/` then `cur/`, sizes from names or the
// size cache, message order by delivery time, unique-ids from base names (or those Dovecot or
// Courier gave them).

import FileIO

/// A maildrop as listed at open.
struct MaildirSnapshot: Sendable {
    struct Message: Sendable {
        var location: MaildirLocation
        var size: Int
        var uniqueID: String
        /// The file's size in octets as known at open (`,S=` in its name, or a `stat`), if
        /// known: a read that finds another size knows another program changed the file.
        var fileSize: Int?
    }

    var messages: [Message]
    /// Message files read to compute a size (neither `,W=` nor a valid cache entry).
    var sizesComputed: Int
    /// Sizes taken from the size cache.
    var sizesFromCache: Int
}

enum MaildirScanner {
    /// Snapshots `maildir` and refreshes its size cache.
    static func scan(_ maildir: Maildir) throws -> MaildirSnapshot {
        let listing = try maildir.listMessages()
        var relisting: [ArraySlice<UInt8>: MaildirLocation]? = nil
        let oldCache = SizeCache.load(maildir)
        var newCache = SizeCache()
        var sizesComputed = 0
        var sizesFromCache = 0
        // Opened on first need: a maildrop whose names all carry `,W=` never stats a file.
        var directories: [MaildirSubdirectory: Directory] = [:]
        defer {
            for directory in directories.values {
                directory.close()
            }
        }
        func directory(_ subdirectory: MaildirSubdirectory) throws -> Directory {
            if let open = directories[subdirectory] {
                return open
            }
            let opened = try Directory.open(maildir.path(of: subdirectory))
            directories[subdirectory] = opened
            return opened
        }

        struct Found {
            var location: MaildirLocation
            var size: Int
            var fileSize: Int?
            // The order's keys, copied out of the name so sorting touches no arrays.
            var seconds: Int
            var microseconds: Int
            var deliveryCount: Int
        }
        var found: [Found] = []
        found.reserveCapacity(listing.count)

        for (baseName, listedLocation) in listing {
            var location = listedLocation
            let size: Int
            var fileSize = location.name.size
            // A `,W=` is trusted only when it can be true: with CRLF line ends a file grows at
            // most to twice its size plus the final line end, and never shrinks. A name made up
            // to overflow the maildrop's total (`,W=999999999999999999`) is counted instead.
            if let virtualSize = location.name.virtualSize,
                Self.isPlausible(virtualSize: virtualSize, size: location.name.size)
            {
                size = virtualSize
            } else {
                var status = try directory(location.subdirectory).status(of: location.name.bytes)
                if status == nil {
                    // Renamed (or deleted) since the listing: list again, once per scan.
                    if relisting == nil {
                        relisting = try maildir.listMessages()
                    }
                    if let moved = relisting?[baseName] {
                        location = moved
                        status = try directory(location.subdirectory).status(of: location.name.bytes)
                    }
                }
                guard let status, status.isRegularFile else { continue }
                fileSize = status.size
                if let cached = oldCache.crlfSize(of: baseName, status: status) {
                    size = cached
                    sizesFromCache += 1
                } else {
                    guard
                        let counted = try Self.countCRLFSize(location.name.bytes, in: directory(location.subdirectory))
                    else { continue }
                    size = counted
                    sizesComputed += 1
                }
                if SizeCache.canStore(baseName) {
                    newCache.entries[baseName] = SizeCache.Entry(
                        crlfSize: size,
                        fileSize: status.size,
                        modification: status.modification
                    )
                }
            }
            let name = location.name
            found.append(
                Found(
                    location: location,
                    size: size,
                    fileSize: fileSize,
                    seconds: name.seconds ?? -1,
                    microseconds: name.microseconds ?? -1,
                    deliveryCount: name.deliveryCount ?? -1
                )
            )
        }

        if newCache != oldCache {
            newCache.store(maildir)
        }

        // Delivery order: the leading seconds, then microseconds, then the delivery count, then
        // the base name's bytes (so the order is total and the same in every session).
        found.sort { a, b in
            if a.seconds != b.seconds { return a.seconds < b.seconds }
            if a.microseconds != b.microseconds { return a.microseconds < b.microseconds }
            if a.deliveryCount != b.deliveryCount { return a.deliveryCount < b.deliveryCount }
            return a.location.baseName.lexicographicallyPrecedes(b.location.baseName)
        }
        let ids = UniqueIDMapper.uniqueIDs(
            for: found.map(\.location.baseName),
            inherited: InheritedUIDLs.load(maildir)
        )
        let messages = zip(found, ids).map { entry, id in
            MaildirSnapshot.Message(
                location: entry.location,
                size: entry.size,
                uniqueID: id,
                fileSize: entry.fileSize
            )
        }
        return MaildirSnapshot(messages: messages, sizesComputed: sizesComputed, sizesFromCache: sizesFromCache)
    }

    /// The largest size believed from a name without `,S=`: 1 TiB.
    static let maximumTrustedVirtualSize = 1 << 40

    static func isPlausible(virtualSize: Int, size: Int?) -> Bool {
        guard let size else { return virtualSize >= 0 && virtualSize <= maximumTrustedVirtualSize }
        return size >= 0 && size <= maximumTrustedVirtualSize && virtualSize >= size && virtualSize <= 2 * size + 2
    }

    /// Reads a file once and returns its CRLF size, or `nil` when it vanished.
    static func countCRLFSize(_ name: [UInt8], in directory: Directory) throws(FileIOError) -> Int? {
        guard let file = try directory.openForReading(name) else { return nil }
        defer { file.closeQuietly() }
        return try Self.countCRLFSize(file)
    }

    /// Reads `file` to its end and returns its CRLF size.
    static func countCRLFSize(_ file: File) throws(FileIOError) -> Int {
        var counter = CRLFSizeCounter()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { chunk.deallocate() }
        while true {
            let count = try file.read(into: chunk)
            if count == 0 {
                return counter.size
            }
            counter.update(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
        }
    }
}
