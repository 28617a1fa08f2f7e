// Dovecot password scheme names (https://doc.dovecot.org/configuration_manual/authentication/password_schemes/).

/// A password scheme as written in braces before a stored password: `{SHA512-CRYPT}$6$...`.
///
/// The names are Dovecot's, so a passwd-file works with either server. A stored password
/// without a scheme uses ``defaultForStoredPasswords`` (``crypt``), as Dovecot's passwd-file does.
public enum PasswordScheme: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The password itself. The only schemes that can answer APOP (RFC 1939 §7).
    case plain = "PLAIN"
    /// Dovecot's synonym of ``plain``.
    case clear = "CLEAR"
    /// Dovecot's synonym of ``plain``.
    case cleartext = "CLEARTEXT"
    /// Any format the system's crypt(3) knows (libxcrypt: yescrypt `$y$`, `$gy$`, `$7$`, `$6$`,
    /// `$5$`, `$2b$`/`$2y$`, `$1$`, DES). New passwords under this name are yescrypt.
    case crypt = "CRYPT"
    /// Traditional DES crypt, verification only.
    case desCrypt = "DES-CRYPT"
    /// `$1$` MD5-crypt, verification only.
    case md5Crypt = "MD5-CRYPT"
    /// `$5$` SHA-256-crypt.
    case sha256Crypt = "SHA256-CRYPT"
    /// `$6$` SHA-512-crypt.
    case sha512Crypt = "SHA512-CRYPT"
    /// `$2y$` bcrypt.
    case blfCrypt = "BLF-CRYPT"
    /// Unsalted SHA-1, verification only.
    case sha = "SHA"
    /// Unsalted SHA-1, verification only.
    case sha1 = "SHA1"
    /// Unsalted SHA-256, verification only.
    case sha256 = "SHA256"
    /// Unsalted SHA-512, verification only.
    case sha512 = "SHA512"
    /// Salted SHA-1, base64 of digest followed by salt; verification only.
    case ssha = "SSHA"
    /// Salted SHA-256, base64 of digest followed by salt.
    case ssha256 = "SSHA256"
    /// Salted SHA-512, base64 of digest followed by salt.
    case ssha512 = "SSHA512"
    /// SCRAM-SHA-256 keys, `iterations,salt,StoredKey,ServerKey` (RFC 7677); also serves PLAIN logins.
    case scramSHA256 = "SCRAM-SHA-256"

    /// The scheme of a stored password written without `{...}` (Dovecot's `default_pass_scheme`).
    public static let defaultForStoredPasswords: PasswordScheme = .crypt

    /// The scheme `postoffice user add` uses unless told otherwise: ``crypt`` with yescrypt, the
    /// method Debian uses for system passwords, which Dovecot verifies through crypt(3).
    public static let defaultForNewPasswords: PasswordScheme = .crypt

    /// Parses a scheme name, case-insensitively; nil when unknown.
    public init?(name: some StringProtocol) {
        self.init(rawValue: name.uppercased())
    }

    public var description: String { rawValue }

    /// Whether the stored form is the password itself.
    public var isPlaintextEquivalent: Bool {
        switch self {
        case .plain, .clear, .cleartext: true
        default: false
        }
    }
}
