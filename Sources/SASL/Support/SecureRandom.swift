// Random bytes for nonces and salts, from swift-crypto's system CSPRNG.
internal import Crypto

/// Cryptographically secure random bytes.
@_spi(POP3Internal)
public enum SecureRandom {
    /// `count` random bytes from the system CSPRNG (through swift-crypto).
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count > 0, "SecureRandom.bytes needs a positive count")
        // SymmetricKey sizes are whole bytes; round up to whole 64-bit words and cut.
        let bits = (count + 7) / 8 * 64
        let key = SymmetricKey(size: SymmetricKeySize(bitCount: bits))
        return key.withUnsafeBytes { Array($0.prefix(count)) }
    }
}
