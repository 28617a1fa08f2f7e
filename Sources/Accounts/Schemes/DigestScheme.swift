internal import Crypto
// SHA and SSHA schemes: a digest of the password, or of password + salt followed by the salt.
import MailCore
@_spi(POP3Internal) internal import SASL

/// Dovecot's SHA1/SHA256/SHA512 (unsalted) and SSHA/SSHA256/SSHA512 (salted) schemes.
struct DigestScheme {
    enum Function {
        case sha1
        case sha256
        case sha512
    }

    let function: Function
    let salted: Bool

    init(_ scheme: PasswordScheme) {
        switch scheme {
        case .sha, .sha1: (function, salted) = (.sha1, false)
        case .sha256: (function, salted) = (.sha256, false)
        case .sha512: (function, salted) = (.sha512, false)
        case .ssha: (function, salted) = (.sha1, true)
        case .ssha256: (function, salted) = (.sha256, true)
        default: (function, salted) = (.sha512, true)
        }
    }

    var digestLength: Int {
        switch function {
        case .sha1: 20
        case .sha256: 32
        case .sha512: 64
        }
    }

    func digest(_ bytes: [UInt8]) -> [UInt8] {
        switch function {
        case .sha1: Array(Insecure.SHA1.hash(data: bytes))
        case .sha256: Array(SHA256.hash(data: bytes))
        case .sha512: Array(SHA512.hash(data: bytes))
        }
    }

    func verify(
        _ password: [UInt8],
        encoded: String,
        encoding: StoredPassword.Encoding?,
        schemeName: String
    ) -> PasswordVerification {
        guard let raw = decode(encoded, encoding: encoding) else {
            return .unusable("\(schemeName) password is not valid base64 or hex")
        }
        if salted {
            guard raw.count > digestLength else { return .unusable("\(schemeName) password is too short") }
            let salt = Array(raw[digestLength...])
            return ConstantTime.equals(digest(password + salt), raw[..<digestLength]) ? .match : .mismatch
        }
        guard raw.count == digestLength else { return .unusable("\(schemeName) password has the wrong length") }
        return ConstantTime.equals(digest(password), raw) ? .match : .mismatch
    }

    /// `base64(digest(password + salt) + salt)`, Dovecot's default encoding.
    func encode(_ password: [UInt8], salt: [UInt8]) -> String {
        Base64.encode(digest(password + salt) + salt)
    }

    private func decode(_ text: String, encoding: StoredPassword.Encoding?) -> [UInt8]? {
        switch encoding {
        case .hex: return Hex.decode(text)
        case .base64: return Base64.decode(text)
        case nil:
            // Dovecot reads a fixed-size digest as hex when its length is that of the hex form.
            if !salted, text.utf8.count == digestLength * 2, let bytes = Hex.decode(text) { return bytes }
            return Base64.decode(text)
        }
    }
}
