// POP3 unique-ids from Maildir base names (RFC 1939 §7: 1 to 70 characters in 0x21–0x7E,
// unique in the maildrop, the same in every session).

import Crypto

/// Derives the UIDL of each message from its Maildir base name.
///
/// A base name that is already a valid unique-id is used as it is: it is stable for the life of
/// the message (readers only change the `:2,` info) and unique in the Maildir. Any other name
/// (too long, as Dovecot names with `V`/`I` fields and sizes often are, or with spaces, 8-bit or
/// control bytes) becomes `~` and the first 32 hex digits of the SHA-256 of its bytes: 33
/// characters, deterministic, so stable across sessions and restarts.
///
/// Should a mapped id equal another message's id (a file literally named like a digest, or a
/// 128-bit collision), the mapped one is hashed again with a counter (`name NUL n`) until it is
/// unique. The result depends only on the set of names, so it stays stable while both messages
/// exist.
enum UniqueIDMapper {
    static let maximumLength = 70

    /// Whether `bytes` can be sent as a unique-id unchanged.
    static func isValidUniqueID(_ bytes: some Collection<UInt8>) -> Bool {
        (1...Self.maximumLength).contains(bytes.count) && bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// The unique-ids for `baseNames` (which must be distinct), in the same order.
    static func uniqueIDs(for baseNames: [ArraySlice<UInt8>]) -> [String] {
        var ids: [String] = []
        ids.reserveCapacity(baseNames.count)
        var mapped: [Int] = []
        for (index, name) in baseNames.enumerated() {
            if Self.isValidUniqueID(name) {
                ids.append(String(decoding: name, as: UTF8.self))
            } else {
                ids.append(Self.digestID(name, salt: 0))
                mapped.append(index)
            }
        }
        guard !mapped.isEmpty else { return ids }

        var counts: [String: Int] = [:]
        for id in ids {
            counts[id, default: 0] += 1
        }
        // Resolve in base-name order so the outcome does not depend on listing order.
        let colliding = mapped.filter { counts[ids[$0], default: 0] > 1 }
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
