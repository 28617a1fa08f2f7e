// Dovecot's stored SCRAM-SHA-256 form: `iterations,base64(salt),base64(StoredKey),base64(ServerKey)`.
import MailCore
@_spi(POP3Internal) internal import SASL

/// The SCRAM-SHA-256 verifier Dovecot stores (RFC 5802 §3 keys, never the password).
enum SCRAMStoredPassword {
    static func parse(_ text: String) -> SCRAMCredentials? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 4,
            let iterations = Int(parts[0]), (1...SCRAM.maximumIterations).contains(iterations),
            let salt = Base64.decode(parts[1]), !salt.isEmpty,
            let storedKey = Base64.decode(parts[2]), storedKey.count == 32,
            let serverKey = Base64.decode(parts[3]), serverKey.count == 32
        else { return nil }
        return SCRAMCredentials(salt: salt, iterations: iterations, storedKey: storedKey, serverKey: serverKey)
    }

    static func format(_ credentials: SCRAMCredentials) -> String {
        "\(credentials.iterations),\(Base64.encode(credentials.salt)),"
            + "\(Base64.encode(credentials.storedKey)),\(Base64.encode(credentials.serverKey))"
    }

    /// Derives the keys from `password` and compares them. Dovecot hashes the raw bytes, RFC 5802
    /// the SASLprep'd form: the two differ only for unusual passwords, and then both are tried.
    static func verify(_ password: [UInt8], stored: SCRAMCredentials) -> Bool {
        var candidates = [password]
        if let text = String(validating: password, as: UTF8.self) {
            let normalized = SCRAM.normalizedPassword(text)
            if normalized != password { candidates.insert(normalized, at: 0) }
        }
        var matched = false
        for candidate in candidates {
            let derived = SCRAM.deriveCredentials(
                passwordBytes: candidate,
                salt: stored.salt,
                iterations: stored.iterations
            )
            let same =
                ConstantTime.equals(derived.storedKey, stored.storedKey)
                && ConstantTime.equals(derived.serverKey, stored.serverKey)
            matched = matched || same
        }
        return matched
    }
}
