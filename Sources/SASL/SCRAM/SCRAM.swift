internal import Crypto
// SCRAM-SHA-256 key derivation (RFC 5802 §3 with SHA-256 per RFC 7677).
import MailCore
internal import _CryptoExtras

/// SCRAM-SHA-256 key derivation, shared by the mechanisms and the account store.
///
///     SaltedPassword  := Hi(Normalize(password), salt, i)
///     ClientKey       := HMAC(SaltedPassword, "Client Key")
///     StoredKey       := H(ClientKey)
///     ServerKey       := HMAC(SaltedPassword, "Server Key")
///
/// `Hi` is PBKDF2 with HMAC-SHA-256. `Normalize` is ``SASLprep`` (see its limits); a password
/// SASLprep rejects is used as its raw UTF-8 bytes, which is what Dovecot does with every password.
///
/// - SeeAlso: [RFC 5802 §3](https://datatracker.ietf.org/doc/html/rfc5802#section-3),
///   [RFC 7677 §3](https://datatracker.ietf.org/doc/html/rfc7677#section-3)
public enum SCRAM {
    /// The iteration count we use for new credentials; RFC 7677 §3 asks for at least 4096.
    public static let defaultIterations = 4096

    /// The largest iteration count computed anywhere here: stored keys stay within it, and a
    /// client's cap on what a server may ask (`SCRAMSHA256ClientMechanism.maximumIterations`,
    /// 100,000 by default) can be raised at most this far.
    public static let maximumIterations = 1_000_000

    /// The keys a SCRAM-SHA-256 server stores for `password`.
    /// - Precondition: `iterations` is between 1 and ``maximumIterations``.
    public static func deriveCredentials(password: String, salt: [UInt8], iterations: Int) -> SCRAMCredentials {
        deriveCredentials(passwordBytes: normalizedPassword(password), salt: salt, iterations: iterations)
    }

    /// Like ``deriveCredentials(password:salt:iterations:)`` from password bytes used as they are.
    public static func deriveCredentials(passwordBytes: [UInt8], salt: [UInt8], iterations: Int) -> SCRAMCredentials {
        let salted = saltedPassword(passwordBytes, salt: salt, iterations: iterations)
        return credentials(saltedPassword: salted, salt: salt, iterations: iterations)
    }

    /// The password bytes SCRAM hashes: SASLprep'd when possible, else the raw UTF-8.
    public static func normalizedPassword(_ password: String) -> [UInt8] {
        if let prepared = try? SASLprep.prepare(password) {
            return Array(prepared.utf8)
        }
        return Array(password.utf8)
    }

    static func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        precondition((1...maximumIterations).contains(iterations), "SCRAM iteration count out of range")
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: password,
                salt: salt,
                using: .sha256,
                outputByteCount: SHA256.byteCount,
                unsafeUncheckedRounds: iterations
            )
            return key.withUnsafeBytes { Array($0) }
        } catch {
            // BoringSSL's PBKDF2 fails only on allocation failure or invalid parameters,
            // which the precondition above rules out.
            fatalError("PBKDF2 failed: \(error)")
        }
    }

    static func credentials(saltedPassword: [UInt8], salt: [UInt8], iterations: Int) -> SCRAMCredentials {
        let clientKey = hmac(key: saltedPassword, Array("Client Key".utf8))
        let serverKey = hmac(key: saltedPassword, Array("Server Key".utf8))
        return SCRAMCredentials(salt: salt, iterations: iterations, storedKey: sha256(clientKey), serverKey: serverKey)
    }

    static func hmac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
        return Array(code)
    }

    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }

    static func xor(_ lhs: [UInt8], _ rhs: [UInt8]) -> [UInt8] {
        precondition(lhs.count == rhs.count)
        return zip(lhs, rhs).map { $0 ^ $1 }
    }

    /// A fresh nonce: 18 random bytes as base64 (printable, never ",": RFC 5802 §5.1 `r`).
    static func randomNonce() -> String {
        Base64.encode(SecureRandom.bytes(18))
    }
}
