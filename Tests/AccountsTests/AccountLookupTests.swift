import Accounts
import SASL
import Testing

@Suite("PasswdFileAccounts.lookUpAccount")
struct AccountLookupTests {
    @Test("exists, absent, and a file that cannot be read (not 'absent': delivery must not bounce)")
    func lookUp() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("passwd", "ann:{PLAIN}x\nbob@example.org:{PLAIN}y\n")
        let accounts = PasswdFileAccounts(path: directory.file("passwd"))
        #expect(await accounts.lookUpAccount(user: "ann") == .exists)
        #expect(await accounts.lookUpAccount(user: "bob@example.org") == .exists)
        #expect(await accounts.lookUpAccount(user: "nobody") == .absent)
        #expect(await accounts.lookUpAccount(user: "../ann") == .absent)

        let missing = PasswdFileAccounts(path: directory.file("absent"))
        guard case .temporaryFailure(let reason) = await missing.lookUpAccount(user: "ann") else {
            Issue.record("expected a temporary failure")
            return
        }
        #expect(reason.contains("absent"))
        #expect(!(await missing.accountExists(user: "ann")))
    }

    @Test("providers without their own lookUpAccount answer from accountExists")
    func defaultImplementation() async {
        struct Fixed: AccountProvider {
            func verifyPassword(user: String, password: [UInt8]) async -> AuthenticationResult { .invalidCredentials }
            func scramCredentials(user: String) async -> SCRAMCredentials? { nil }
            func apopSecret(user: String) async -> [UInt8]? { nil }
            func accountExists(user: String) async -> Bool { user == "here" }
        }
        #expect(await Fixed().lookUpAccount(user: "here") == .exists)
        #expect(await Fixed().lookUpAccount(user: "gone") == .absent)
    }
}
