// Making stored passwords for new accounts and password changes.
@_spi(POP3Internal) internal import SASL

/// Why a password could not be hashed.
public struct PasswordHashingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A short explanation; never contains the password.
    public var message: String
    public var description: String { message }
}

/// Makes ``StoredPassword``s.
///
/// Schemes for new passwords: ``PasswordScheme/crypt`` (yescrypt `$y$`, the default),
/// ``PasswordScheme/sha512Crypt``, ``PasswordScheme/sha256Crypt``, ``PasswordScheme/blfCrypt``
/// (`$2y$`, cost 10), ``PasswordScheme/ssha256``, ``PasswordScheme/ssha512``,
/// ``PasswordScheme/scramSHA256`` (4096 iterations, 16-byte random salt, so SCRAM logins work)
/// and the plaintext schemes (needed for APOP; the file then holds the password itself).
/// Weak or unsalted schemes (DES, MD5-crypt, SHA*) are for verification only.
public enum PasswordHasher {
    /// Hashes `password` in `scheme` with a fresh random salt. Slow by design (yescrypt ~30 ms).
    /// - Throws: ``PasswordHashingError`` for an empty password, one with NUL (or, for plaintext
    ///   schemes, a `:` or line break, which the file format cannot hold), or a scheme we only verify.
    public static func hash(
        _ password: String,
        scheme: PasswordScheme = .defaultForNewPasswords
    ) throws(PasswordHashingError) -> StoredPassword {
        guard !password.isEmpty else { throw PasswordHashingError(message: "the password is empty") }
        guard !password.utf8.contains(0) else { throw PasswordHashingError(message: "the password contains NUL") }
        let bytes = Array(password.utf8)
        switch scheme {
        case .plain, .clear, .cleartext:
            guard !password.utf8.contains(where: { $0 == UInt8(ascii: ":") || $0 == 0x0A || $0 == 0x0D }) else {
                throw PasswordHashingError(message: "a \(scheme) password cannot contain ':' or a line break")
            }
            return StoredPassword(scheme: scheme, data: password)
        case .crypt:
            return StoredPassword(scheme: scheme, data: try crypt(bytes, prefix: "$y$"))
        case .sha512Crypt:
            return StoredPassword(scheme: scheme, data: try crypt(bytes, prefix: "$6$"))
        case .sha256Crypt:
            return StoredPassword(scheme: scheme, data: try crypt(bytes, prefix: "$5$"))
        case .blfCrypt:
            // libxcrypt's default bcrypt cost is 5 (2^5 rounds), as is Dovecot's; 10 is the usual modern floor.
            return StoredPassword(scheme: scheme, data: try crypt(bytes, prefix: "$2y$", count: 10))
        case .ssha256, .ssha512:
            let encoded = DigestScheme(scheme).encode(bytes, salt: SecureRandom.bytes(16))
            return StoredPassword(scheme: scheme, data: encoded)
        case .scramSHA256:
            let credentials = SCRAM.deriveCredentials(
                password: password,
                salt: SecureRandom.bytes(16),
                iterations: SCRAM.defaultIterations
            )
            return StoredPassword(scheme: scheme, data: SCRAMStoredPassword.format(credentials))
        case .desCrypt, .md5Crypt, .sha, .sha1, .sha256, .sha512, .ssha:
            throw PasswordHashingError(message: "\(scheme) is too weak for new passwords; it is only verified")
        }
    }

    private static func crypt(
        _ password: [UInt8],
        prefix: String,
        count: UInt = 0
    ) throws(PasswordHashingError) -> String {
        guard let setting = SystemCrypt.makeSetting(prefix: prefix, count: count),
            let hash = SystemCrypt.hash(password: password, setting: setting)
        else {
            throw PasswordHashingError(message: "the system's crypt(3) does not support \(prefix)")
        }
        return hash
    }
}
