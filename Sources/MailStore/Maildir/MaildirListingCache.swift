// The listings of recently opened Maildirs, kept in memory so that a login to a maildrop that
// did not change parses nothing and lists no directory (issue 7: the Maildir scan was most of a
// session's CPU, and all of a large maildrop's login).

import FileIO
import NIOConcurrencyHelpers

/// Listings of recently opened Maildirs, by Maildir path, least recently used first out.
///
/// A listing is used again only as far as its directories vouch for it
/// (`MaildirListing.DirectoryState.vouches(for:)`): `new/` or `cur/` whose stamp moved is
/// listed again, matching names against the cached entries so that only new names are parsed.
/// That covers every change, whoever makes it: deliveries (`deliver`, LMTP, an MDA), another
/// MUA's renames and deletions, this server's UPDATE. The cache only saves work; a listing it
/// lost is made again from the directories.
///
/// Bounded by `maximumMessages` (the entries of all listings together; a listing larger than
/// that is not kept) and `maximumMaildrops`. A cached message costs about 300 bytes (its name
/// twice, as bytes and as unique-id, and its size and order keys), so the default bound is
/// about 120 MB at most.
final class MaildirListingCache: Sendable {
    /// The default bound on cached messages, all maildrops together: four maildrops of
    /// 100,000 messages, or 4,000 of 100.
    static let defaultMaximumMessages = 400_000
    /// The default bound on cached maildrops.
    static let defaultMaximumMaildrops = 10_000

    let maximumMessages: Int
    let maximumMaildrops: Int
    /// The real-time clock the directories' stamps are compared with (tests move it).
    let now: @Sendable () -> FileTime

    private struct Slot {
        var listing: MaildirListing
        /// When it was last used, in `State.uses`.
        var lastUse: UInt64
        /// Which store of this listing it is: UPDATE changes only the listing its session opened.
        var generation: UInt64
    }

    private struct State {
        /// By the Maildir's path as the store's template made it (a `String` hashes its bytes at
        /// once; a `FilePath` one character at a time).
        var slots: [String: Slot] = [:]
        var messages = 0
        var uses: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    init(
        maximumMessages: Int = MaildirListingCache.defaultMaximumMessages,
        maximumMaildrops: Int = MaildirListingCache.defaultMaximumMaildrops,
        now: @escaping @Sendable () -> FileTime = { FileTime.now() }
    ) {
        precondition(maximumMessages >= 0 && maximumMaildrops >= 0, "cache bounds must not be negative")
        self.maximumMessages = maximumMessages
        self.maximumMaildrops = maximumMaildrops
        self.now = now
    }

    /// The listing cached for the Maildir at `path`, if any, and its generation.
    func entry(for path: String) -> (listing: MaildirListing, generation: UInt64)? {
        self.state.withLockedValue { state in
            guard var slot = state.slots[path] else { return nil }
            state.uses += 1
            slot.lastUse = state.uses
            state.slots[path] = slot
            return (slot.listing, slot.generation)
        }
    }

    /// Keeps `listing` as the Maildir's at `path`, dropping the least recently used listings
    /// while the bounds are exceeded. Returns its generation (for `removeMessages`), or `nil`
    /// when it is too large to keep.
    @discardableResult
    func store(_ listing: MaildirListing, for path: String) -> UInt64? {
        self.state.withLockedValue { state in
            if let old = state.slots.removeValue(forKey: path) {
                state.messages -= old.listing.entries.count
            }
            guard listing.entries.count <= self.maximumMessages, self.maximumMaildrops > 0 else { return nil }
            while state.messages + listing.entries.count > self.maximumMessages
                || state.slots.count + 1 > self.maximumMaildrops
            {
                // safe: the bounds cannot be exceeded by an empty cache (checked above)
                let oldest = state.slots.min { $0.value.lastUse < $1.value.lastUse }!
                state.slots.removeValue(forKey: oldest.key)
                state.messages -= oldest.value.listing.entries.count
            }
            state.uses += 1
            state.slots[path] = Slot(listing: listing, lastUse: state.uses, generation: state.uses)
            state.messages += listing.entries.count
            return state.uses
        }
    }

    /// This server deleted the messages at `indices` (sorted, distinct) of the listing of
    /// `generation`: the cached listing drops them, and their directories are listed again at
    /// the next open (see `MaildirListing.removing(_:)`). Nothing happens when the cache holds
    /// another listing of the Maildir by then.
    func removeMessages(_ indices: [Int], for path: String, generation: UInt64) {
        let cached: MaildirListing? = self.state.withLockedValue { state in
            guard let slot = state.slots[path], slot.generation == generation else { return nil }
            return slot.listing
        }
        // Made outside the lock: the copy is as long as the maildrop.
        guard let updated = cached?.removing(indices) else { return }
        self.state.withLockedValue { state in
            guard var slot = state.slots[path], slot.generation == generation else { return }
            state.messages -= slot.listing.entries.count - updated.entries.count
            slot.listing = updated
            state.slots[path] = slot
        }
    }

    /// How many listings and messages are cached (for tests).
    var counts: (maildrops: Int, messages: Int) {
        self.state.withLockedValue { ($0.slots.count, $0.messages) }
    }
}
