import Accounts
import PostgresNIO
import Testing

@testable import PostgresStore

@Suite("Accounts in PostgreSQL", .serialized)
struct PostgresAccountsTests {
    @Test("add, log in, change the password, list, remove")
    func lifecycle() async throws {
        try await TestDatabase.withFresh { database in
            let accounts = PostgresAccounts(database: database)
            try await accounts.add(user: "alice", password: "first secret")
            try await accounts.add(user: "bob", password: "bobs", scheme: .plain)
            #expect(try await accounts.list() == ["alice", "bob"])
            #expect(
                await accounts.verifyPassword(user: "alice", password: Array("first secret".utf8))
                    == .success(user: "alice")
            )
            #expect(await accounts.verifyPassword(user: "alice", password: Array("wrong".utf8)) == .invalidCredentials)
            #expect(await accounts.verifyPassword(user: "nobody", password: Array("x".utf8)) == .invalidCredentials)
            #expect(await accounts.verifyPassword(user: "../x", password: Array("x".utf8)) == .invalidCredentials)
            // Stored as a passwd-file stores it: yescrypt by default, never the password itself.
            let field = try await database.rows("SELECT password FROM accounts WHERE name = 'alice'").first!
                .decode(String.self)
            #expect(field.hasPrefix("{CRYPT}$y$"))
            #expect(!field.contains("first secret"))
            // APOP needs the plaintext: only PLAIN accounts have it.
            #expect(await accounts.apopSecret(user: "bob") == Array("bobs".utf8))
            #expect(await accounts.apopSecret(user: "alice") == nil)

            try await accounts.setPassword(user: "alice", password: "second", scheme: .scramSHA256)
            #expect(
                await accounts.verifyPassword(user: "alice", password: Array("second".utf8)) == .success(user: "alice")
            )
            #expect(await accounts.scramCredentials(user: "alice") != nil)
            #expect(await accounts.lookUpAccount(user: "alice") == .exists)

            try await accounts.remove(user: "alice")
            #expect(await accounts.lookUpAccount(user: "alice") == .absent)
            #expect(try await accounts.list() == ["bob"])
        }
    }

    @Test("changes that cannot be made say why")
    func refusedChanges() async throws {
        try await TestDatabase.withFresh { database in
            let accounts = PostgresAccounts(database: database)
            try await accounts.add(user: "carol", password: "pw")
            await #expect(throws: AccountChangeError.self) { try await accounts.add(user: "carol", password: "again") }
            do {
                try await accounts.add(user: "carol", password: "again")
            } catch let error as AccountChangeError {
                #expect(error.code == .userExists)
            }
            do {
                try await accounts.remove(user: "dave")
                Issue.record("removed a user that does not exist")
            } catch let error as AccountChangeError {
                #expect(error.code == .noSuchUser)
            }
            do {
                try await accounts.add(user: "a:b", password: "pw")
                Issue.record("accepted a user name with a colon")
            } catch let error as AccountChangeError {
                #expect(error.code == .invalidUserName)
            }
        }
    }

    @Test("a database without the schema is a temporary failure, never 'no such user'")
    func databaseTroubleIsTemporary() async throws {
        try await TestDatabase.withFresh(migrated: false) { database in
            let accounts = PostgresAccounts(database: database)
            guard case .temporaryFailure = await accounts.lookUpAccount(user: "erin") else {
                Issue.record("a missing table read as an answer")
                return
            }
            guard case .temporaryFailure = await accounts.verifyPassword(user: "erin", password: [1]) else {
                Issue.record("a missing table read as an answer")
                return
            }
        }
    }
}

@Suite("Schema migrations", .serialized)
struct SchemaTests {
    @Test("expire_days and login_delay come from extra_fields as in a passwd-file; the settings in use after a login")
    func settings() async throws {
        try await TestDatabase.withFresh { database in
            let accounts = PostgresAccounts(database: database)
            try await accounts.add(user: "carl", password: "pw", scheme: .plain)
            try await accounts.add(user: "dora", password: "pw", scheme: .plain)
            try await accounts.add(user: "emil", password: "pw", scheme: .plain)
            try await database.rows(
                "UPDATE accounts SET extra_fields = 'expire_days=30 login_delay=600' WHERE name = 'carl'"
            )
            try await database.rows("UPDATE accounts SET extra_fields = 'expire_days=soon' WHERE name = 'emil'")
            #expect(accounts.settingsInUse == AccountSettingsInUse(), "nothing is known before the first login")
            #expect(await accounts.verifyPassword(user: "dora", password: Array("pw".utf8)) == .success(user: "dora"))
            #expect(accounts.settingsInUse == AccountSettingsInUse(expiries: [.days(30)], loginDelays: [600]))
            #expect(await accounts.settings(user: "carl") == AccountSettings(expiry: .days(30), loginDelaySeconds: 600))
            #expect(await accounts.settings(user: "dora") == AccountSettings())
            #expect(await accounts.settings(user: "emil") == AccountSettings(), "an unusable value is left to the site")
            #expect(await accounts.settings(user: "nobody") == AccountSettings())
            #expect(
                try await accounts.allSettings() == [
                    "carl": AccountSettings(expiry: .days(30), loginDelaySeconds: 600),
                    "dora": AccountSettings(),
                    "emil": AccountSettings(),
                ]
            )
        }
    }

    @Test("migrate brings an empty database to the current version, once; check then passes")
    func migrateOnce() async throws {
        try await TestDatabase.withFresh(migrated: false) { database in
            #expect(try await Schema.version(database) == 0)
            await #expect(throws: Schema.Mismatch(found: 0, expected: Schema.currentVersion)) {
                try await Schema.check(database)
            }
            let first = try await Schema.migrate(database)
            #expect(first.from == 0)
            #expect(first.to == Schema.currentVersion)
            #expect(first.applied == Array(1...Schema.currentVersion))
            let second = try await Schema.migrate(database)
            #expect(second.applied.isEmpty)
            try await Schema.check(database)
        }
    }

    @Test("two nodes migrating at once apply each version once")
    func concurrentMigrations() async throws {
        try await TestDatabase.withFresh(migrated: false) { database in
            async let one = Schema.migrate(database)
            async let two = Schema.migrate(database)
            let reports = try await [one, two]
            #expect(reports.flatMap(\.applied).sorted() == Array(1...Schema.currentVersion))
            try await Schema.check(database)
        }
    }
}
