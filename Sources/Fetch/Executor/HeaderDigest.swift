import Crypto
// A unique id for servers without UIDL: a digest of the header (TOP n 0) and the size.
import MailCore

/// Without `UIDL` (RFC 1939 §7 makes it optional) messages are told apart by a SHA-256 over
/// their header as `TOP n 0` returns it, and their `LIST` size. The result is
/// `sha256-` + 40 hex digits, valid as a unique id (RFC 1939 §7: 1–70 characters 0x21–0x7E).
/// Messages with identical headers and sizes get `-2`, `-3`… in listing order.
enum HeaderDigest {
    struct Accumulator {
        private var hasher = SHA256()

        mutating func add<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
            hasher.update(data: Array(bytes))
        }

        consuming func uniqueID(size: Int) -> UniqueID {
            hasher.update(data: Array("\u{0}size=\(size)".utf8))
            let digest = hasher.finalize()
            let hex = digest.prefix(20).map { byte -> String in
                let digits = Array("0123456789abcdef".utf8)
                return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]], as: UTF8.self)
            }
            // 47 characters of `[a-z0-9-]`.
            return UniqueID(unchecked: "sha256-" + hex.joined())
        }
    }

    /// Makes repeated ids distinct by occurrence.
    static func disambiguate(_ ids: [UniqueID]) -> [UniqueID] {
        var seen: [UniqueID: Int] = [:]
        return ids.map { id in
            seen[id, default: 0] += 1
            let count = seen[id]!  // safe: set on the line above
            // At most 47 + 1 + 10 characters, all printable ASCII.
            return count == 1 ? id : UniqueID(unchecked: "\(id)-\(count)")
        }
    }
}
