// A stored password `{SCHEME}data` and its verification.
@_spi(POP3Internal) public import SASL

/// The outcome of checking a password against a stored one.
public enum PasswordVerification: Hashable, Sendable {
    case match
    case mismatch
    /// The stored password cannot be checked (unknown scheme, bad encoding). The text names the
    /// scheme and the problem, never the stored data, so it may be logged.
    case unusable(String)
}

/// A password as a passwd-file stores it: `{SCHEME}data`, or bare data in the default scheme.
///
/// `description` never shows the data. Dovecot's encoding suffixes `.HEX`, `.B64` and `.BASE64`
/// are understood for the digest schemes; without one a digest is base64, or hex when its length
/// says so (as Dovecot decides).
///
/// - SeeAlso: [Dovecot password schemes](https://doc.dovecot.org/configuration_manual/authentication/password_schemes/)
public struct StoredPassword: Hashable, Sendable, CustomStringConvertible {
    /// How the digest bytes of a scheme are written.
    public enum Encoding: Hashable, Sendable {
        case base64
        case hex
    }

    /// The scheme name as written (upper-cased, without an encoding suffix).
    public let schemeName: String
    /// The scheme, nil when we do not know it.
    public let scheme: PasswordScheme?
    /// An explicit encoding suffix, if one was given.
    public let encoding: Encoding?
    /// The part after `}`: the hash, or the password for PLAIN.
    let data: String

    /// Parses the password field of a passwd-file line.
    public init(field: String, defaultScheme: PasswordScheme = .defaultForStoredPasswords) {
        if field.hasPrefix("{"), let close = field.firstIndex(of: "}") {
            var name = field[field.index(after: field.startIndex)..<close].uppercased()
            var encoding: Encoding?
            if let dot = name.lastIndex(of: ".") {
                switch name[name.index(after: dot)...] {
                case "HEX": encoding = .hex
                case "B64", "BASE64": encoding = .base64
                default: break
                }
                if encoding != nil { name = String(name[..<dot]) }
            }
            self.schemeName = name
            self.scheme = PasswordScheme(name: name)
            self.encoding = encoding
            self.data = String(field[field.index(after: close)...])
        } else {
            self.schemeName = defaultScheme.rawValue
            self.scheme = defaultScheme
            self.encoding = nil
            self.data = field
        }
    }

    /// Wraps already-encoded data in a scheme.
    init(scheme: PasswordScheme, data: String) {
        self.schemeName = scheme.rawValue
        self.scheme = scheme
        self.encoding = nil
        self.data = data
    }

    /// The field as it is written in the file, `{SCHEME}data`. Contains the hash: never log it.
    public var fieldValue: String { "{\(schemeName)\(encoding.map { $0 == .hex ? ".HEX" : ".B64" } ?? "")}\(data)" }

    public var description: String { "{\(schemeName)}<redacted>" }

    /// Checks `password`. This is slow by design for the crypt and SCRAM schemes: call it off any
    /// event loop.
    public func verify(_ password: [UInt8]) -> PasswordVerification {
        guard let scheme else { return .unusable("unknown password scheme \(schemeName)") }
        // An empty password field means the account has no password login (Dovecot's userdb-only lines).
        guard !data.isEmpty else { return .mismatch }
        switch scheme {
        case .plain, .clear, .cleartext:
            return ConstantTime.equals(Array(data.utf8), password) ? .match : .mismatch
        case .crypt, .desCrypt, .md5Crypt, .sha256Crypt, .sha512Crypt, .blfCrypt:
            guard Self.cryptPrefixMatches(scheme, data) else {
                return .unusable("\(schemeName) password is not in that scheme's crypt format")
            }
            return SystemCrypt.verify(password: password, storedHash: data) ? .match : .mismatch
        case .sha, .sha1, .sha256, .sha512, .ssha, .ssha256, .ssha512:
            return DigestScheme(scheme).verify(password, encoded: data, encoding: encoding, schemeName: schemeName)
        case .scramSHA256:
            guard let stored = scramCredentials else { return .unusable("malformed SCRAM-SHA-256 password") }
            return SCRAMStoredPassword.verify(password, stored: stored) ? .match : .mismatch
        }
    }

    /// The SCRAM-SHA-256 keys, for SCRAM-SHA-256 entries; nil for every other scheme.
    public var scramCredentials: SCRAMCredentials? {
        guard scheme == .scramSHA256 else { return nil }
        return SCRAMStoredPassword.parse(data)
    }

    /// The password itself for plaintext schemes (what APOP needs, RFC 1939 §7); nil otherwise.
    public var plaintext: [UInt8]? {
        guard let scheme, scheme.isPlaintextEquivalent, !data.isEmpty else { return nil }
        return Array(data.utf8)
    }

    private static func cryptPrefixMatches(_ scheme: PasswordScheme, _ hash: String) -> Bool {
        switch scheme {
        case .md5Crypt: hash.hasPrefix("$1$")
        case .sha256Crypt: hash.hasPrefix("$5$")
        case .sha512Crypt: hash.hasPrefix("$6$")
        case .blfCrypt: hash.hasPrefix("$2")
        case .desCrypt: hash.utf8.count == 13 && !hash.hasPrefix("$")
        default: true
        }
    }
}
