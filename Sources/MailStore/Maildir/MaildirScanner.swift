// Listing a Maildir into a maildrop: `new/` then `cur/`, each only when it changed since the
// listing of the previous open; names parsed as bytes straight from the directory, sizes from
// names or from counting the file once; message order by delivery time, unique-ids from base
// names.

import FileIO
import SystemPackage

/// A listing and how it was made (for tests and the benchmarks' reports).
struct MaildirScan: Sendable {
    var listing: MaildirListing
    /// Message files read to compute a size (neither `,W=` nor a size counted earlier).
    var sizesComputed = 0
    /// Sizes counted at an earlier open (kept in memory or in the size cache file) that still
    /// hold: the file has the same size and mtime.
    var sizesFromCache = 0
    /// Directories listed (readdir); 0 when both were unchanged since the previous listing.
    var directoriesListed = 0
    /// Whether `listing` is the previous listing as it was (nothing listed or counted).
    var isUnchanged = false
}

enum MaildirScanner {
    /// Lists `maildir`, reusing `previous` (the listing of an earlier open) where the
    /// directories did not change, and refreshes the size cache file when its sizes changed.
    ///
    /// `new/` is listed first: messages move only from `new/` to `cur/`, so one moved between the
    /// two listings is seen in `cur/` (and may be seen twice; the `cur/` entry wins), never
    /// missed. For the same reason `cur/`'s stamp is taken only after `new/` is listed.
    ///
    /// - Parameter now: the real-time clock (a parameter so tests can make stamps settle).
    static func scan(
        _ maildir: Maildir,
        previous: MaildirListing?,
        now: () -> FileTime = FileTime.now
    ) throws(FileIOError) -> MaildirScan {
        var scanner = Scanner(maildir: maildir, previous: previous)
        defer { scanner.closeDirectories() }
        let (inherited, inheritedUnchanged) = Self.inheritedIDs(of: maildir, previous: previous?.inherited, now: now)
        if let previous, inheritedUnchanged, let unchanged = try scanner.reuse(previous) {
            return MaildirScan(
                listing: unchanged,
                sizesComputed: scanner.sizesComputed,
                sizesFromCache: scanner.sizesFromCache,
                directoriesListed: 0,
                isUnchanged: scanner.sizesComputed == 0
            )
        }
        scanner.sizesFromCache = 0
        if previous == nil {
            scanner.knownSizes = SizeCache.load(maildir)
        }
        var lists: [MaildirSubdirectory: [MaildirListing.Entry]] = [:]
        var states: [MaildirSubdirectory: MaildirListing.DirectoryState] = [:]
        for subdirectory in MaildirSubdirectory.allCases {
            (lists[subdirectory], states[subdirectory]) = try scanner.scan(subdirectory, now: now)
        }
        let unknown = MaildirListing.DirectoryState(stamp: nil, settled: false)
        let listing = MaildirListing(
            new: lists[.new] ?? [],
            cur: lists[.cur] ?? [],
            newState: states[.new] ?? unknown,
            curState: states[.cur] ?? unknown,
            inherited: inherited
        )
        scanner.storeSizes(of: listing)
        return MaildirScan(
            listing: listing,
            sizesComputed: scanner.sizesComputed,
            sizesFromCache: scanner.sizesFromCache,
            directoriesListed: scanner.directoriesListed
        )
    }

    /// The unique-ids other servers gave (`InheritedUIDLs`), and whether they are `previous`'s:
    /// those hold while the files they came from vouch for them (stamps unchanged and settled),
    /// else the files are read again.
    static func inheritedIDs(
        of maildir: Maildir,
        previous: InheritedState?,
        now: () -> FileTime
    ) -> (InheritedState, unchanged: Bool) {
        let time = now()
        let stamps = InheritedUIDLs.fileNames.map { name in
            (try? FileSystem.status(maildir.root.appending(name))).map(FileStamp.init)
        }
        if let previous, previous.vouches(for: stamps) {
            return (previous, true)
        }
        // A file that is not there is settled at once: its arrival moves the stamp from nil.
        let settled = stamps.allSatisfy { $0?.isSettled(at: time) ?? true }
        let ids = stamps.allSatisfy { $0 == nil } ? [:] : InheritedUIDLs.load(maildir)
        return (InheritedState(stamps: stamps, settled: settled, ids: ids), false)
    }

    /// The state of one scan.
    private struct Scanner {
        let maildir: Maildir
        let previous: MaildirListing?
        /// Sizes counted earlier, by base name (so a renamed file is not counted again): the
        /// size cache file's on a first listing, else made from `previous` on first need.
        var knownSizes: SizeCache?
        /// Whether the counted sizes differ from those of `previous`, so the file must be
        /// written (a first listing compares with the file instead).
        var countedSizesChanged = false
        var sizesComputed = 0
        var sizesFromCache = 0
        var directoriesListed = 0
        /// Opened on first need: a maildrop whose names all carry `,W=` and that did not change
        /// opens no directory.
        var directories: [MaildirSubdirectory: Directory] = [:]

        init(maildir: Maildir, previous: MaildirListing?) {
            self.maildir = maildir
            self.previous = previous
        }

        mutating func closeDirectories() {
            for directory in self.directories.values {
                directory.close()
            }
            self.directories = [:]
        }

        mutating func directory(_ subdirectory: MaildirSubdirectory) throws(FileIOError) -> Directory {
            if let open = self.directories[subdirectory] {
                return open
            }
            let opened = try Directory.open(self.maildir.path(of: subdirectory))
            self.directories[subdirectory] = opened
            return opened
        }

        /// `previous` as it is when both directories are as it saw them (settled stamps), with
        /// its counted sizes checked; `nil` when a directory changed or a file is gone.
        mutating func reuse(_ previous: MaildirListing) throws(FileIOError) -> MaildirListing? {
            for subdirectory in MaildirSubdirectory.allCases {
                guard let status = try FileSystem.status(self.maildir.path(of: subdirectory)),
                    previous[state: subdirectory].vouches(for: FileStamp(status))
                else { return nil }
            }
            guard previous.hasCountedSizes else { return previous }
            var entries = previous.entries
            let sizesComputed = self.sizesComputed
            for subdirectory in MaildirSubdirectory.allCases {
                if try self.checkCountedSizes(&entries, in: subdirectory) {
                    return nil
                }
            }
            guard self.sizesComputed != sizesComputed else { return previous }
            var listing = previous
            listing.entries = entries
            listing.messages = zip(previous.messages, entries).map { message, entry in
                var message = message
                message.size = entry.size
                return message
            }
            self.storeSizes(of: listing)
            return listing
        }

        /// The entries of `subdirectory` in delivery order, and its state. A file that vanishes
        /// between the listing and its stat (renamed by another MUA) makes it list the directory
        /// once more; if files still vanish, they are left out and the next open lists again.
        mutating func scan(_ subdirectory: MaildirSubdirectory, now: () -> FileTime) throws(FileIOError) -> (
            [MaildirListing.Entry], MaildirListing.DirectoryState
        ) {
            let earlier = self.previous.map { previous in previous.entries.filter { $0.subdirectory == subdirectory } }
            var forceListing = false
            var attempt = 0
            while true {
                attempt += 1
                let time = now()
                guard let status = try FileSystem.status(self.maildir.path(of: subdirectory)) else {
                    throw FileIOError("stat", self.maildir.path(of: subdirectory), .noSuchFileOrDirectory)
                }
                let stamp = FileStamp(status)
                var entries: [MaildirListing.Entry]
                var vanished: Bool
                if !forceListing, let earlier, let state = self.previous?[state: subdirectory],
                    state.vouches(for: stamp)
                {
                    entries = earlier
                    vanished = try self.checkCountedSizes(&entries, in: subdirectory)
                } else {
                    (entries, vanished) = try self.list(subdirectory, earlier: earlier)
                }
                if !vanished {
                    return (entries, MaildirListing.DirectoryState(stamp: stamp, settled: stamp.isSettled(at: time)))
                }
                if attempt == 2 {
                    return (entries, MaildirListing.DirectoryState(stamp: nil, settled: false))
                }
                forceListing = true
                // A reopened directory: the old descriptor may be of a directory replaced since.
                self.directories.removeValue(forKey: subdirectory)?.close()
            }
        }

        /// Checks the sizes counted earlier against the files (size and mtime) and recounts
        /// those that changed. Returns whether a file was gone.
        private mutating func checkCountedSizes(
            _ entries: inout [MaildirListing.Entry],
            in subdirectory: MaildirSubdirectory
        ) throws(FileIOError) -> Bool {
            var vanished = false
            var index = 0
            while index < entries.count {
                guard let counted = entries[index].counted, entries[index].subdirectory == subdirectory else {
                    index += 1
                    continue
                }
                let name = entries[index].name
                let directory = try self.directory(subdirectory)
                guard let status = try directory.status(of: name), status.isRegularFile else {
                    vanished = true
                    entries.remove(at: index)
                    self.countedSizesChanged = true
                    continue
                }
                if status.size == counted.fileSize, status.modification == counted.modification {
                    self.sizesFromCache += 1
                } else {
                    guard let size = try MaildirScanner.countCRLFSize(name, in: directory) else {
                        vanished = true
                        entries.remove(at: index)
                        self.countedSizesChanged = true
                        continue
                    }
                    self.sizesComputed += 1
                    self.countedSizesChanged = true
                    entries[index].size = size
                    entries[index].counted = MaildirListing.CountedFile(
                        fileSize: status.size,
                        modification: status.modification
                    )
                }
                index += 1
            }
            return vanished
        }

        /// Lists `subdirectory`: entries of `earlier` whose file name is still there are kept as
        /// they are (their counted sizes checked), other names are parsed. Returns the entries in
        /// delivery order and whether a file vanished before its size was known.
        private mutating func list(
            _ subdirectory: MaildirSubdirectory,
            earlier: [MaildirListing.Entry]?
        ) throws(FileIOError) -> ([MaildirListing.Entry], Bool) {
            self.directoriesListed += 1
            let directory = try self.directory(subdirectory)
            let earlier = earlier ?? []
            let table = earlier.isEmpty ? nil : EntryNameTable(earlier)
            var present = [Bool](repeating: false, count: earlier.count)
            var added: [MaildirListing.Entry] = []
            var pending: [PendingEntry] = []
            try directory.forEachEntry(skippingHidden: true) { name, kind in
                guard kind.mayBeRegularFile else { return }
                if let table, let index = table.index(of: name, in: earlier) {
                    present[index] = true
                    return
                }
                guard let entry = Self.parse(name, in: subdirectory) else { return }
                if entry.size >= 0 {
                    added.append(entry)
                } else {
                    pending.append(PendingEntry(entry: entry))
                }
            }

            var kept: [MaildirListing.Entry] = []
            kept.reserveCapacity(earlier.count)
            for index in earlier.indices where present[index] {
                kept.append(earlier[index])
            }
            if kept.count != earlier.count, earlier.contains(where: { $0.counted != nil }) {
                self.countedSizesChanged = true
            }
            var vanished = try self.checkCountedSizes(&kept, in: subdirectory)
            if try !self.sizeFiles(&pending, in: directory) {
                vanished = true
            }
            added.append(contentsOf: pending.compactMap(\.entryIfSized))
            return (Self.merge(kept, MaildirListing.sortedInDeliveryOrder(added)), vanished)
        }

        /// A name whose size must come from the file.
        private struct PendingEntry {
            var entry: MaildirListing.Entry
            var entryIfSized: MaildirListing.Entry? { self.entry.size >= 0 ? self.entry : nil }
        }

        /// Sizes the pending entries from the size cache file or by counting. Returns `false`
        /// when a file was gone (its entry keeps size -1 and is dropped).
        private mutating func sizeFiles(_ pending: inout [PendingEntry], in directory: Directory) throws(FileIOError)
            -> Bool
        {
            var allThere = true
            for index in pending.indices {
                let name = pending[index].entry.name
                guard let status = try directory.status(of: name), status.isRegularFile else {
                    allThere = false
                    continue
                }
                if self.knownSizes == nil {
                    self.knownSizes = self.previous.map(Self.countedSizes(of:)) ?? SizeCache()
                }
                if let cached = self.knownSizes?.crlfSize(of: pending[index].entry.baseName, status: status) {
                    pending[index].entry.size = cached
                    self.sizesFromCache += 1
                } else {
                    guard let counted = try MaildirScanner.countCRLFSize(name, in: directory) else {
                        allThere = false
                        continue
                    }
                    pending[index].entry.size = counted
                    self.sizesComputed += 1
                    self.countedSizesChanged = true
                }
                pending[index].entry.counted = MaildirListing.CountedFile(
                    fileSize: status.size,
                    modification: status.modification
                )
            }
            return allThere
        }

        /// One entry from a directory's name, or `nil` for a name a Maildir reader skips. Its
        /// size is -1 until the file is counted, when the name has no believable `,W=`.
        static func parse(_ name: UnsafeRawBufferPointer, in subdirectory: MaildirSubdirectory)
            -> MaildirListing.Entry?
        {
            let bytes = name.assumingMemoryBound(to: UInt8.self)
            guard let fields = MaildirFilename.Fields.parse(bytes) else { return nil }
            let size: Int
            if let virtualSize = fields.virtualSize,
                MaildirScanner.isPlausible(virtualSize: virtualSize, size: fields.size)
            {
                size = virtualSize
            } else {
                size = -1
            }
            let baseName = UnsafeBufferPointer(rebasing: bytes[..<fields.baseNameLength])
            return MaildirListing.Entry(
                name: Array(bytes),
                baseNameLength: fields.baseNameLength,
                subdirectory: subdirectory,
                size: size,
                seconds: fields.seconds ?? -1,
                microseconds: fields.microseconds ?? -1,
                deliveryCount: fields.deliveryCount ?? -1,
                uniqueID: UniqueIDMapper.uniqueID(for: baseName),
                counted: nil,
                nameFileSize: fields.size
            )
        }

        /// Two lists in delivery order as one.
        static func merge(_ a: [MaildirListing.Entry], _ b: [MaildirListing.Entry]) -> [MaildirListing.Entry] {
            if b.isEmpty { return a }
            if a.isEmpty { return b }
            var merged: [MaildirListing.Entry] = []
            merged.reserveCapacity(a.count + b.count)
            var i = 0
            var j = 0
            while i < a.count || j < b.count {
                if j == b.count || (i < a.count && !MaildirListing.precedes(b[j], a[i])) {
                    merged.append(a[i])
                    i += 1
                } else {
                    merged.append(b[j])
                    j += 1
                }
            }
            return merged
        }

        /// Writes the counted sizes of `listing` to the size cache file when they changed (for a
        /// first listing: when they differ from the file's).
        func storeSizes(of listing: MaildirListing) {
            guard self.previous == nil || self.countedSizesChanged else { return }
            let sizes = Self.countedSizes(of: listing)
            if self.previous == nil, sizes == self.knownSizes {
                return
            }
            sizes.store(self.maildir)
        }

        /// The sizes of `listing` that were counted from files, as the size cache holds them.
        static func countedSizes(of listing: MaildirListing) -> SizeCache {
            var cache = SizeCache()
            for entry in listing.entries {
                guard let counted = entry.counted, SizeCache.canStore(entry.baseName) else { continue }
                cache.entries[entry.baseName] = SizeCache.Entry(
                    crlfSize: entry.size,
                    fileSize: counted.fileSize,
                    modification: counted.modification
                )
            }
            return cache
        }
    }

    /// The largest size believed from a name without `,S=`: 1 TiB.
    static let maximumTrustedVirtualSize = 1 << 40

    static func isPlausible(virtualSize: Int, size: Int?) -> Bool {
        guard let size else { return virtualSize >= 0 && virtualSize <= maximumTrustedVirtualSize }
        return size >= 0 && size <= maximumTrustedVirtualSize && virtualSize >= size && virtualSize <= 2 * size + 2
    }

    /// Reads a file once and returns its CRLF size, or `nil` when it vanished.
    static func countCRLFSize(_ name: some Collection<UInt8>, in directory: Directory) throws(FileIOError) -> Int? {
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
