// The parsed listing of a Maildir's `new/` and `cur/`: file names parsed once, as bytes, into
// what a maildrop needs (size, delivery order, unique-id), with the state of each directory when
// it was listed, so a later login lists again only a directory that changed (MaildirScanner)
// and a login to an unchanged one lists nothing (MaildirListingCache).

import FileIO
import MailCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Enough of a directory's (or file's) stat(2) to know that it did not change: adding, removing
/// or renaming a name in a directory, or writing a file, sets its mtime and ctime to the current
/// time (POSIX), and a program can reset the mtime but never the ctime.
struct FileStamp: Hashable, Sendable {
    var device: UInt64
    var inode: UInt64
    var modification: FileTime
    var change: FileTime

    init(_ status: FileStatus) {
        self.device = status.device
        self.inode = status.inode
        self.modification = status.modification
        self.change = status.change
    }

    init(device: UInt64, inode: UInt64, modification: FileTime, change: FileTime) {
        self.device = device
        self.inode = inode
        self.modification = modification
        self.change = change
    }

    /// How long after a directory's last change a stamp of it may vouch for a listing, when its
    /// timestamps have nanoseconds: more than the kernel's timestamp tick (the coarse clock file
    /// times are taken from advances in steps of 1 to 10 ms).
    static let settleTime = 100 * 1_000_000
    /// The same for timestamps in whole seconds (file systems that keep no nanoseconds, and FAT's
    /// two-second mtimes).
    static let coarseSettleTime = 2 * 1_000_000_000

    /// Whether a listing made after this stamp was taken stays true for as long as the stamp
    /// stays the same. `time` is the clock read before the stat.
    ///
    /// A file system stamps a change with its clock's current tick, so a second change in the same
    /// tick as the one the stamp shows leaves the stamp as it was: a listing taken between the two
    /// would be believed though it misses the second. A change made after `time` is stamped no
    /// earlier than `time` less one tick; so once the last change is older than that, any later
    /// change moves the stamp. (Dovecot does not trust a Maildir whose mtime is within the
    /// current second for the same reason.) Assumes the file system's clock is this machine's:
    /// a file system on another host (NFS) with a clock behind ours could stamp a new change
    /// with the time of the old one.
    func isSettled(at time: FileTime) -> Bool {
        let coarse = self.change.nanoseconds == 0 && self.modification.nanoseconds == 0
        let settle = Int64(coarse ? Self.coarseSettleTime : Self.settleTime)
        return self.change.totalNanoseconds < time.totalNanoseconds - settle
            && self.modification.totalNanoseconds < time.totalNanoseconds - settle
    }
}

/// The messages of `new/` and `cur/` in delivery order, as listed at one login and brought up to
/// date at the next.
struct MaildirListing: Sendable {
    /// One message file.
    struct Entry: Sendable {
        /// The whole file name (base name and info), as the directory holds it.
        var name: [UInt8]
        /// The length of the base name (up to the first `:`).
        var baseNameLength: Int
        var subdirectory: MaildirSubdirectory
        /// The size with CRLF line ends: the POP3 size (RFC 1939 §5).
        var size: Int
        /// The delivery order's keys from the name (-1 where the name has none).
        var seconds: Int
        var microseconds: Int
        var deliveryCount: Int
        /// The base name's unique-id before collisions are resolved (see `UniqueIDMapper`).
        var uniqueID: String
        /// For a size counted from the file (no believable `,W=`): the file's size and mtime
        /// then. The size stands while the file keeps both (`SizeCache`'s rule).
        var counted: CountedFile?

        /// The file's size in octets as known at open (`,S=` in its name, or the stat its size
        /// was counted with), if known: a read that finds another size knows another program
        /// changed the file.
        var fileSize: Int? { self.counted?.fileSize ?? self.nameFileSize }
        /// `,S=` from the name.
        var nameFileSize: Int?

        /// `new/NAME` or `cur/NAME` as a location.
        var location: MaildirLocation {
            // safe: the name was parsed by `MaildirFilename` when it was listed
            MaildirLocation(subdirectory: self.subdirectory, name: MaildirFilename(self.name)!)
        }

        var baseName: ArraySlice<UInt8> { self.name[..<self.baseNameLength] }
    }

    struct CountedFile: Hashable, Sendable {
        var fileSize: Int
        var modification: FileTime
    }

    /// What is known of one subdirectory.
    struct DirectoryState: Hashable, Sendable {
        /// The directory as it was just before it was last listed; `nil` after a change made
        /// while listing it (a file gone between the listing and its stat) or by this server's
        /// own UPDATE: the next open lists it again.
        var stamp: FileStamp?
        /// Whether `stamp` was settled when taken (`FileStamp.isSettled(at:)`).
        var settled: Bool

        /// Whether the entries of this directory can be used without listing it again, now that
        /// it looks like `current`.
        func vouches(for current: FileStamp) -> Bool {
            self.settled && self.stamp == current
        }
    }

    /// Every message, in delivery order (see `precedes`), one per base name.
    var entries: [Entry]
    /// The maildrop's view of `entries`, with unique-ids made unique.
    var messages: [MaildropMessage]
    var new: DirectoryState
    var cur: DirectoryState
    /// The unique-ids other servers gave, as read at the listing.
    var inherited: InheritedState
    /// Whether an entry has a size counted from its file (so a login checks its size and mtime);
    /// kept so that a login to a maildrop of `,W=` names does not walk its entries.
    var hasCountedSizes: Bool
    /// `tmp/` when it was last found with nothing to clean (`Maildir.cleanTemporaryFiles`):
    /// while this vouches for it, it still has nothing, and a login does not list it.
    var temporary: DirectoryState?

    subscript(state subdirectory: MaildirSubdirectory) -> DirectoryState {
        get { subdirectory == .new ? self.new : self.cur }
        set {
            if subdirectory == .new {
                self.new = newValue
            } else {
                self.cur = newValue
            }
        }
    }

    /// This listing less the entries at `indices` (sorted, distinct), which this server has just
    /// deleted, with their directories to be listed again at the next open: a stamp taken now
    /// would also cover whatever another program did to the directory meanwhile.
    func removing(_ indices: [Int]) -> MaildirListing {
        guard !indices.isEmpty else { return self }
        var result = self
        var keptEntries: [Entry] = []
        var keptMessages: [MaildropMessage] = []
        keptEntries.reserveCapacity(self.entries.count - indices.count)
        keptMessages.reserveCapacity(self.entries.count - indices.count)
        var next = indices.startIndex
        for index in self.entries.indices {
            if next < indices.endIndex, indices[next] == index {
                next += 1
                result[state: self.entries[index].subdirectory] = DirectoryState(stamp: nil, settled: false)
                continue
            }
            keptEntries.append(self.entries[index])
            keptMessages.append(self.messages[index])
        }
        result.entries = keptEntries
        result.messages = keptMessages
        return result
    }

    // MARK: Building

    /// The delivery order: the leading seconds, then microseconds, then the delivery count, then
    /// the base name's bytes (so the order is total and the same in every session); for two
    /// files of one base name, `cur/` first, then by whole name.
    static func precedes(_ a: Entry, _ b: Entry) -> Bool {
        if a.seconds != b.seconds { return a.seconds < b.seconds }
        if a.microseconds != b.microseconds { return a.microseconds < b.microseconds }
        if a.deliveryCount != b.deliveryCount { return a.deliveryCount < b.deliveryCount }
        let byBaseName = compareBytes(a.name, a.baseNameLength, b.name, b.baseNameLength)
        if byBaseName != 0 { return byBaseName < 0 }
        if a.subdirectory != b.subdirectory { return a.subdirectory == .cur }
        return compareBytes(a.name, a.name.count, b.name, b.name.count) < 0
    }

    /// `entries` in delivery order. Sorts small keys rather than the entries themselves: an entry
    /// is over 100 bytes, and a stable sort moves each one many times.
    static func sortedInDeliveryOrder(_ entries: [Entry]) -> [Entry] {
        struct Key {
            var seconds: Int
            var microseconds: Int
            var deliveryCount: Int
            var index: Int
        }
        var keys = entries.indices.map { index in
            let entry = entries[index]
            return Key(
                seconds: entry.seconds,
                microseconds: entry.microseconds,
                deliveryCount: entry.deliveryCount,
                index: index
            )
        }
        keys.sort { a, b in
            if a.seconds != b.seconds { return a.seconds < b.seconds }
            if a.microseconds != b.microseconds { return a.microseconds < b.microseconds }
            if a.deliveryCount != b.deliveryCount { return a.deliveryCount < b.deliveryCount }
            return Self.precedes(entries[a.index], entries[b.index])
        }
        return keys.map { entries[$0.index] }
    }

    /// `memcmp` order of the first `aCount` bytes of `a` and `bCount` of `b`, a prefix first.
    private static func compareBytes(_ a: [UInt8], _ aCount: Int, _ b: [UInt8], _ bCount: Int) -> Int {
        a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in
                let common = min(aCount, bCount)
                if common > 0 {
                    let order = memcmp(a.baseAddress!, b.baseAddress!, common)  // safe: common > 0
                    if order != 0 { return Int(order) }
                }
                return aCount - bCount
            }
        }
    }

    /// The listing of `new` and `cur` (each in delivery order): merged, one entry per base name
    /// (the first in delivery order, so `cur/`'s when a message is in both, as when it moved
    /// between the two listings), with unique-ids (`inherited` ones where another server gave
    /// them, see `InheritedUIDLs`).
    init(
        new: [Entry],
        cur: [Entry],
        newState: DirectoryState,
        curState: DirectoryState,
        inherited: InheritedState
    ) {
        var merged: [Entry] = []
        merged.reserveCapacity(new.count + cur.count)
        var n = 0
        var c = 0
        while n < new.count || c < cur.count {
            let next: Entry
            if c == cur.count || (n < new.count && Self.precedes(new[n], cur[c])) {
                next = new[n]
                n += 1
            } else {
                next = cur[c]
                c += 1
            }
            if let last = merged.last, last.baseNameLength == next.baseNameLength,
                last.baseName.elementsEqual(next.baseName)
            {
                continue
            }
            merged.append(next)
        }
        self.entries = merged
        self.new = newState
        self.cur = curState
        self.inherited = inherited
        self.messages = Self.messages(for: merged, inherited: inherited.ids)
        self.hasCountedSizes = merged.contains { $0.counted != nil }
    }

    /// The maildrop's messages: sizes, arrivals and the entries' unique-ids, unless two of them
    /// collide (without inherited ids, only possible between ids of the digest's shape) or
    /// another server gave some of them, when `UniqueIDMapper` resolves them.
    private static func messages(for entries: [Entry], inherited: [ArraySlice<UInt8>: String]) -> [MaildropMessage] {
        var resolve = !inherited.isEmpty
        if !resolve {
            var digestShaped: Set<String> = []
            for entry in entries where UniqueIDMapper.hasDigestShape(entry.uniqueID) {
                if !digestShaped.insert(entry.uniqueID).inserted {
                    resolve = true
                    break
                }
            }
        }
        if resolve {
            let ids = UniqueIDMapper.uniqueIDs(for: entries.map(\.baseName), inherited: inherited)
            return zip(entries, ids).map { Self.message($0, uniqueID: $1) }
        }
        return entries.map { Self.message($0, uniqueID: $0.uniqueID) }
    }

    /// A message's arrival is the delivery time its unique name begins with (Dovecot calls it
    /// the "UNIX timestamp of arrival"): written once by the delivery agent, kept through flag
    /// changes, and through copies and restores that reset a file's mtime. The mtime is no
    /// arrival: Dovecot sets it to an IMAP APPEND's date, which may be years old. A name with
    /// no leading time (no delivery agent writes one) has no known arrival.
    private static func message(_ entry: Entry, uniqueID: String) -> MaildropMessage {
        // `UniqueIDMapper` gives only valid ids.
        MaildropMessage(
            uniqueID: UniqueID(unchecked: uniqueID),
            size: entry.size,
            arrival: entry.seconds >= 0 ? entry.seconds : nil
        )
    }
}

/// The unique-ids other servers gave a Maildir's messages (`InheritedUIDLs`), with the stamps
/// of the files they came from, so that a login reads them again only when they changed.
struct InheritedState: Sendable {
    /// The files' stamps, in `InheritedUIDLs.fileNames` order; `nil` for a file that is not there.
    var stamps: [FileStamp?]
    /// Whether every stamp was settled when taken (`FileStamp.isSettled(at:)`).
    var settled: Bool
    var ids: [ArraySlice<UInt8>: String]

    /// Whether these ids still hold for files that look like `current`.
    func vouches(for current: [FileStamp?]) -> Bool {
        self.settled && self.stamps == current
    }
}

/// Finds the entries of an earlier listing by file name without allocating: open addressing
/// over a power-of-two table of entry indices, hashing the name's bytes.
struct EntryNameTable {
    private var slots: [Int32]
    private let mask: Int

    /// A table of `entries` (fewer than 2³¹).
    init(_ entries: [MaildirListing.Entry]) {
        var capacity = 16
        while capacity < 2 * entries.count {
            capacity *= 2
        }
        self.mask = capacity - 1
        self.slots = Array(repeating: -1, count: capacity)
        for (index, entry) in entries.enumerated() {
            var slot = entry.name.withUnsafeBytes { Self.hash($0) } & self.mask
            while self.slots[slot] >= 0 {
                slot = (slot + 1) & self.mask
            }
            self.slots[slot] = Int32(index)
        }
    }

    /// The index in `entries` (the array the table was made of) of the entry named `name`.
    func index(of name: UnsafeRawBufferPointer, in entries: [MaildirListing.Entry]) -> Int? {
        var slot = Self.hash(name) & self.mask
        while true {
            let index = Int(self.slots[slot])
            if index < 0 {
                return nil
            }
            let matches = entries[index].name.withUnsafeBytes { stored in
                // safe: both pointers are non-nil when the count is not zero
                stored.count == name.count
                    && (name.isEmpty || memcmp(stored.baseAddress!, name.baseAddress!, name.count) == 0)
            }
            if matches {
                return index
            }
            slot = (slot + 1) & self.mask
        }
    }

    private static func hash(_ bytes: UnsafeRawBufferPointer) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: bytes)
        return hasher.finalize()
    }
}
