// POP3 unique-ids from Maildir base names (RFC 1939 §7: 1 to 70 characters in 0x21–0x7E,
// unique in the maildrop, the same in every session).

import Crypto
import MailCore

/// Derives the UIDL of each message from its Maildir base name.
///
/// A base name that is already a valid unique-id is used as it is: it is stable for the life of
/// the message (readers only change the `:2,` info) and unique in the Maildir. Any other name
/// (too long, as Dovecot names with `V`/`I` fields and sizes often are, or with spaces, 8-bit or
/// control bytes) becomes `~` and the first 32 hex digits of the SHA-256 of its bytes: 33
/// characters, deterministic, so stable across sessions and restarts.
///
/// A message another server already gave a unique-id (``InheritedUIDLs``: Dovecot's or
/// Courier's) keeps that one, so its clients do not download it again; a second message with
/// the same inherited id, or an inherited id that is not a valid unique-id, gets its own.
///
/// Should an id of ours equal another message's id (a file literally named like a digest or an
/// inherited id, or a 128-bit collision), ours is hashed again with a counter (`name NUL n`)
/// until it is unique; an inherited id never changes. The result depends only on the set of
/// names and the inherited ids, so it stays stable while the messages exist.
enum UniqueIDMapper {
    /// The unique-id of one base name before collisions are resolved: the name itself when it is
    /// a valid unique-id, else its digest (`uniqueIDs(for:inherited:)` resolves collisions).
    static func uniqueID(for baseName: some Collection<UInt8>) -> String {
        UniqueID.isValid(baseName) ? String(decoding: baseName, as: UTF8.self) : Self.digestID(baseName, salt: 0)
    }

    /// The length of a digest id: `~` and 32 hex digits.
    static let digestIDLength = 33

    /// Whether `id` looks like a digest id (`~` and 32 more characters): without inherited ids,
    /// every id that can collide with another has this shape (distinct base names are distinct
    /// ids).
    static func hasDigestShape(_ id: String) -> Bool {
        id.utf8.count == Self.digestIDLength && id.utf8.first == UInt8(ascii: "~")
    }

    /// The unique-ids for `baseNames` (which must be distinct), in the same order; `inherited`
    /// maps base names to the ids an earlier server gave them.
    static func uniqueIDs(
        for baseNames: [ArraySlice<UInt8>],
        inherited: [ArraySlice<UInt8>: String] = [:]
    ) -> [String] {
        var ids: [String] = []
        ids.reserveCapacity(baseNames.count)
        // Ids that must not change, and the messages whose ids are ours to choose.
        var fixed: Set<String> = []
        var movable: [Int] = []
        var mapped: [Int] = []
        if !inherited.isEmpty {
            // Inherited ids first, in base-name order, so which of two equal ones wins does not
            // depend on listing order.
            let order = baseNames.indices.filter { inherited[baseNames[$0]] != nil }
                .sorted { baseNames[$0].lexicographicallyPrecedes(baseNames[$1]) }
            var owner: [Int: String] = [:]
            for index in order {
                // safe: `order` holds only names with an inherited id.
                let id = inherited[baseNames[index]]!
                if UniqueID.isValid(id.utf8), fixed.insert(id).inserted {
                    owner[index] = id
                }
            }
            for (index, name) in baseNames.enumerated() {
                if let id = owner[index] {
                    ids.append(id)
                } else {
                    ids.append(Self.ownID(name, mapped: &mapped, index: index))
                    if fixed.contains(ids[index]) { movable.append(index) }
                }
            }
        } else {
            for (index, name) in baseNames.enumerated() {
                ids.append(Self.ownID(name, mapped: &mapped, index: index))
            }
        }
        guard !mapped.isEmpty || !movable.isEmpty else { return ids }

        var counts: [String: Int] = [:]
        for id in ids {
            counts[id, default: 0] += 1
        }
        // Resolve in base-name order so the outcome does not depend on listing order.
        let colliding = Set(movable + mapped.filter { counts[ids[$0], default: 0] > 1 })
            .sorted { baseNames[$0].lexicographicallyPrecedes(baseNames[$1]) }
        for index in colliding {
            var salt = 1
            var candidate = Self.digestID(baseNames[index], salt: salt)
            while counts[candidate, default: 0] > 0 {
                salt += 1
                candidate = Self.digestID(baseNames[index], salt: salt)
            }
            counts[ids[index], default: 1] -= 1
            counts[candidate] = 1
            ids[index] = candidate
        }
        return ids
    }

    /// Our id for `name`: the name itself when valid, else its digest (then noted in `mapped`).
    private static func ownID(_ name: ArraySlice<UInt8>, mapped: inout [Int], index: Int) -> String {
        if !UniqueID.isValid(name) {
            mapped.append(index)
        }
        return Self.uniqueID(for: name)
    }

    static func digestID(_ name: some Collection<UInt8>, salt: Int) -> String {
        var input = Array(name)
        if salt > 0 {
            input.append(0)
            input.append(contentsOf: String(salt).utf8)
        }
        let digits = Array("0123456789abcdef".utf8)
        var id: [UInt8] = [UInt8(ascii: "~")]
        for byte in SHA256.hash(data: input).prefix(16) {
            id.append(digits[Int(byte >> 4)])
            id.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: id, as: UTF8.self)
    }
}
