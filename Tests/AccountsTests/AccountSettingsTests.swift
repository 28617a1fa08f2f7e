import Testing

@testable import Accounts

@Suite("passwd-file extra fields: expire_days and login_delay")
struct AccountSettingsTests {
    @Test(
        "values of expire_days",
        arguments: [
            ("30", Expiry.days(30)), ("0", .days(0)), ("NEVER", .never), ("never", .never), ("36500", .days(36_500)),
        ]
    )
    func expiryValues(text: String, expected: Expiry) {
        #expect(Expiry(parsing: text) == expected)
    }

    @Test("unusable expire_days", arguments: ["", "-1", "+3", "36501", "30d", "1e3", "9999999999999999999", " 5"])
    func badExpiry(text: String) {
        #expect(Expiry(parsing: text) == nil)
    }

    @Test("NEVER is the longest period")
    func ordering() {
        #expect(Expiry.days(0).isShorter(than: .days(1)))
        #expect(Expiry.days(400).isShorter(than: .never))
        #expect(!Expiry.never.isShorter(than: .days(1)))
        #expect(!Expiry.never.isShorter(than: .never))
        #expect(!Expiry.days(5).isShorter(than: .days(5)))
    }

    @Test("Dovecot's extra fields: plain keys, userdb_ keys, values with colons, other fields ignored")
    func parseLines() throws {
        let text = """
            alice:{PLAIN}a:1000:1000::/home/alice::expire_days=30 login_delay=900
            bob:{PLAIN}b::::::userdb_mail=maildir:~/Maildir userdb_expire_days=never nopassword
            carol:{PLAIN}c:::::
            dave:{PLAIN}d::::::userdb_login_delay=60 login_delay=120
            erin:{PLAIN}e::::::login_delay=120\tuserdb_login_delay=60 expire_days=0
            """
        let file = PasswdFile(parsing: text)
        #expect(file.problems.isEmpty)
        #expect(file.entries["alice"]?.settings == AccountSettings(expiry: .days(30), loginDelaySeconds: 900))
        #expect(file.entries["bob"]?.settings == AccountSettings(expiry: .never))
        #expect(file.entries["carol"]?.settings == AccountSettings())
        // The plain key wins over its userdb_ twin, in either order.
        #expect(file.entries["dave"]?.settings.loginDelaySeconds == 120)
        #expect(file.entries["erin"]?.settings == AccountSettings(expiry: .days(0), loginDelaySeconds: 120))
    }

    @Test("an unusable value is reported, and the account stays with the site's setting")
    func badValues() throws {
        let text = """
            alice:{PLAIN}a::::::expire_days=soon login_delay=60
            bob:{PLAIN}b::::::login_delay=-5
            carol:{PLAIN}c::::::login_delay=604801
            """
        let file = PasswdFile(parsing: text)
        #expect(file.problems.map(\.lineNumber) == [1, 2, 3])
        #expect(file.problems[0].reason.contains("user alice: expire_days must be NEVER or a number of days"))
        #expect(file.problems[1].reason.contains("login_delay must be a number of seconds"))
        #expect(file.entries.count == 3)
        #expect(file.entries["alice"]?.settings == AccountSettings(loginDelaySeconds: 60))
        #expect(file.entries["bob"]?.settings == AccountSettings())
        #expect(file.entries["carol"]?.settings == AccountSettings())
    }

    @Test("PasswdFileAccounts: settings per account, the values in use, all accounts")
    func provider() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write(
            "passwd",
            """
            alice:{PLAIN}a::::::expire_days=30 login_delay=900
            bob:{PLAIN}b::::::expire_days=NEVER
            carol:{PLAIN}c
            dave:{PLAIN}d::::::expire_days=30
            """
        )
        let accounts = PasswdFileAccounts(path: directory.file("passwd"))
        #expect(accounts.settingsInUse == AccountSettingsInUse(), "nothing before the file is read")
        #expect(await accounts.settings(user: "alice") == AccountSettings(expiry: .days(30), loginDelaySeconds: 900))
        #expect(await accounts.settings(user: "carol") == AccountSettings())
        #expect(await accounts.settings(user: "nobody") == AccountSettings())
        #expect(accounts.settingsInUse == AccountSettingsInUse(expiries: [.days(30), .never], loginDelays: [900]))
        let all = try await accounts.allSettings()
        #expect(all.keys.sorted() == ["alice", "bob", "carol", "dave"])
        #expect(all["bob"] == AccountSettings(expiry: .never))

        // A changed file is read again (the check runs at most once per reload interval).
        let quick = PasswdFileAccounts(path: directory.file("passwd"), reloadInterval: .zero, onProblem: { _ in })
        _ = await quick.settings(user: "alice")
        try directory.write("passwd", "alice:{PLAIN}a::::::login_delay=5\n")
        #expect(await quick.settings(user: "alice") == AccountSettings(loginDelaySeconds: 5))
        #expect(quick.settingsInUse == AccountSettingsInUse(loginDelays: [5]))

        let missing = PasswdFileAccounts(path: directory.file("absent"))
        await #expect(throws: (any Error).self) { try await missing.allSettings() }
        #expect(missing.settingsInUse == AccountSettingsInUse())
    }
}
