import SASL
import Testing

@testable import Accounts

@Suite("Hashing new passwords")
struct PasswordHasherTests {
    static let generated: [(PasswordScheme, String)] = [
        (.crypt, "{CRYPT}$y$"), (.sha512Crypt, "{SHA512-CRYPT}$6$"), (.sha256Crypt, "{SHA256-CRYPT}$5$"),
        (.blfCrypt, "{BLF-CRYPT}$2y$10$"), (.ssha256, "{SSHA256}"), (.ssha512, "{SSHA512}"),
        (.scramSHA256, "{SCRAM-SHA-256}4096,"), (.plain, "{PLAIN}"),
    ]

    @Test("each scheme makes a hash in its format that verifies", arguments: generated)
    func roundTrip(scheme: PasswordScheme, prefix: String) throws {
        let password = "Grüße, neues Passwort!"
        let stored = try PasswordHasher.hash(password, scheme: scheme)
        #expect(stored.fieldValue.hasPrefix(prefix))
        #expect(stored.verify(Array(password.utf8)) == .match)
        #expect(stored.verify(Array("x\(password)".utf8)) == .mismatch)
        // Parsing the written field gives the same stored password back.
        #expect(StoredPassword(field: stored.fieldValue) == stored)
    }

    @Test("salts are random")
    func salted() throws {
        for scheme in [PasswordScheme.crypt, .sha512Crypt, .ssha256, .scramSHA256] {
            let first = try PasswordHasher.hash("same", scheme: scheme)
            let second = try PasswordHasher.hash("same", scheme: scheme)
            #expect(first != second)
        }
    }

    @Test("SCRAM-SHA-256 hashes carry the keys for a SCRAM login")
    func scram() throws {
        let stored = try PasswordHasher.hash("pencil", scheme: .scramSHA256)
        let credentials = try #require(stored.scramCredentials)
        #expect(credentials.iterations == 4096)
        #expect(credentials.salt.count == 16)
        #expect(credentials == SCRAM.deriveCredentials(password: "pencil", salt: credentials.salt, iterations: 4096))
    }

    @Test("weak schemes and unstorable passwords are refused")
    func refused() {
        for scheme in [PasswordScheme.desCrypt, .md5Crypt, .sha, .sha1, .sha256, .sha512, .ssha] {
            #expect(throws: PasswordHashingError.self) { try PasswordHasher.hash("x", scheme: scheme) }
        }
        #expect(throws: PasswordHashingError.self) { try PasswordHasher.hash("") }
        #expect(throws: PasswordHashingError.self) { try PasswordHasher.hash("a\u{0}b") }
        #expect(throws: PasswordHashingError.self) { try PasswordHasher.hash("a:b", scheme: .plain) }
        #expect(throws: PasswordHashingError.self) { try PasswordHasher.hash("a\nb", scheme: .plain) }
        // Hashed schemes store no password text, so ':' is fine there.
        #expect(throws: Never.self) { try PasswordHasher.hash("a:b", scheme: .sha512Crypt) }
    }

    @Test("the default for new passwords is yescrypt under CRYPT")
    func defaultScheme() throws {
        #expect(try PasswordHasher.hash("pw").fieldValue.hasPrefix("{CRYPT}$y$"))
    }
}
