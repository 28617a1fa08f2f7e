import SASL
import Testing

@testable import Accounts

@Suite("Stored password schemes against real Dovecot and mkpasswd hashes")
struct StoredPasswordTests {
    @Test("every fixture verifies with its password", arguments: Fixture.all)
    func verifies(_ fixture: Fixture) {
        let stored = StoredPassword(field: fixture.stored)
        #expect(stored.scheme != nil)
        #expect(stored.verify(Array(fixture.password.utf8)) == .match)
    }

    @Test("every fixture refuses a wrong password", arguments: Fixture.all)
    func refuses(_ fixture: Fixture) {
        let stored = StoredPassword(field: fixture.stored)
        // A changed first character: DES crypt reads only the first 8 bytes.
        #expect(stored.verify(Array(("x" + fixture.password).utf8)) == .mismatch)
        #expect(stored.verify([]) == .mismatch)
    }

    @Test("scheme names, encodings and the default")
    func parsing() {
        let hex = StoredPassword(field: "{ssha256.hex}00")
        #expect(hex.scheme == .ssha256)
        #expect(hex.encoding == .hex)
        #expect(hex.fieldValue == "{SSHA256.HEX}00")
        let bare = StoredPassword(field: "$6$abc$def")
        #expect(bare.scheme == .crypt)
        #expect(bare.fieldValue == "{CRYPT}$6$abc$def")
        let unknown = StoredPassword(field: "{ARGON2ID}$argon2id$v=19$m=65536")
        #expect(unknown.scheme == nil)
        #expect(unknown.schemeName == "ARGON2ID")
    }

    @Test("description never shows the hash")
    func redaction() {
        let stored = StoredPassword(field: "{PLAIN}hunter2")
        #expect(stored.description == "{PLAIN}<redacted>")
        #expect(!"\(stored)".contains("hunter2"))
    }

    @Test("unknown or broken stored passwords are unusable, with a text naming the scheme only")
    func unusable() {
        let cases = [
            "{ARGON2ID}$argon2id$v=19$secret",
            "{SHA512-CRYPT}$1$EVWghjvo$hsFpQGNm83ZFenmRwin0N/",
            "{SHA256}not*base64",
            "{SHA256}Zm9v",
            "{SSHA256}Zm9v",
            "{SCRAM-SHA-256}4096,xx",
            "{SCRAM-SHA-256}0,20veCIM8BB/9q4zTyoSFCg==,TV+DC61wffoXeiiyGVc4ycsuJ8/LbjDKROj6fFckJns=,"
                + "mI5oN8XrUYfeWeo/CVhp19mMT0BrPWnDw9gRrJS9fL0=",
        ]
        for field in cases {
            let result = StoredPassword(field: field).verify(Array("x".utf8))
            guard case .unusable(let reason) = result else {
                Issue.record("\(field.prefix(20)): expected unusable, got \(result)")
                continue
            }
            #expect(!reason.contains(field.drop { $0 != "}" }.dropFirst()))
        }
    }

    @Test("crypt results starting with * never match")
    func cryptFailureToken() {
        // libxcrypt answers "*0" or "*1" for an invalid setting; the stored "*0" must not match it.
        #expect(StoredPassword(field: "{CRYPT}*0").verify(Array("x".utf8)) == .mismatch)
        #expect(StoredPassword(field: "{CRYPT}$99$bogus").verify(Array("x".utf8)) == .mismatch)
        #expect(SystemCrypt.hash(password: Array("x".utf8), setting: "$99$bogus") == nil)
    }

    @Test("a NUL in the password is never passed to crypt(3)")
    func nulInPassword() {
        let stored = StoredPassword(
            field: #"{CRYPT}$y$j9T$sDYuVMuJ//k0bFs5ieJUe.$u3wAr/bWry5hI/Ev5crdO4cy85bJiqL8u6rV1SMNj1/"#
        )
        #expect(stored.verify(Array("correct horse\u{0}trailing".utf8)) == .mismatch)
    }

    @Test("empty password field: no login")
    func emptyField() {
        #expect(StoredPassword(field: "").verify([]) == .mismatch)
        #expect(StoredPassword(field: "{PLAIN}").plaintext == nil)
    }

    @Test("APOP secret only for plaintext schemes")
    func apop() {
        #expect(StoredPassword(field: "{PLAIN}tanstaaf").plaintext == Array("tanstaaf".utf8))
        #expect(StoredPassword(field: "{CLEARTEXT}tanstaaf").plaintext == Array("tanstaaf".utf8))
        #expect(StoredPassword(field: "{SHA256}QQTTb42iwlQ0n4WDZ5Pr4CngyVcGOjTJHC6SAxh7VjE=").plaintext == nil)
    }

    @Test("SCRAM-SHA-256 entries give the keys a SCRAM exchange needs")
    func scramCredentials() throws {
        let fixture = try #require(Fixture.all.first { $0.tool == "SCRAM-SHA-256" })
        let credentials = try #require(StoredPassword(field: fixture.stored).scramCredentials)
        #expect(credentials.iterations == 4096)
        #expect(
            credentials == SCRAM.deriveCredentials(password: fixture.password, salt: credentials.salt, iterations: 4096)
        )
        #expect(StoredPassword(field: "{PLAIN}x").scramCredentials == nil)
    }
}
