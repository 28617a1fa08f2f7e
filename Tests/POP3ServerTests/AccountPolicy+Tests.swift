import Accounts
import Foundation
import POP3Core
import Testing

@testable import POP3Server

@Suite("Account policy and the login history")
struct AccountPolicyTests {
    @Test("the account's settings override the site's")
    func effective() {
        let site = AccountPolicy(siteLoginDelay: 300, siteExpiry: .days(30), account: AccountSettings())
        #expect(site.loginDelaySeconds == 300)
        #expect(site.expiry == .days(30))
        #expect(site.expiryCutoff(now: 100 * 86_400) == 70 * 86_400)
        #expect(!site.expiresOnEveryRetrieval)
        let own = AccountPolicy(
            siteLoginDelay: 300,
            siteExpiry: .days(30),
            account: AccountSettings(expiry: .never, loginDelaySeconds: 0)
        )
        #expect(own.loginDelaySeconds == 0)
        #expect(own.expiryCutoff(now: 100) == nil)
        let zero = AccountPolicy(siteLoginDelay: nil, siteExpiry: nil, account: AccountSettings(expiry: .days(0)))
        #expect(zero.expiresOnEveryRetrieval)
        #expect(zero.expiryCutoff(now: 100) == nil, "EXPIRE 0 deletes by retrieval, not by age")
        let none = AccountPolicy(siteLoginDelay: nil, siteExpiry: nil, account: AccountSettings())
        #expect(none.loginDelaySeconds == 0)
        #expect(none.expiry == nil)
    }

    @Test(
        "CAPA before login: the largest delay and the shortest period, USER when accounts differ",
        arguments: [
            // (site delay, site expiry, delays in use, expiries in use) → LOGIN-DELAY, EXPIRE lines
            (nil, nil, [], [], []),
            (900, nil, [], [], ["LOGIN-DELAY 900"]),
            (900, nil, [900], [], ["LOGIN-DELAY 900"]),
            (900, nil, [60], [], ["LOGIN-DELAY 900 USER"]),
            (nil, nil, [60], [], ["LOGIN-DELAY 60 USER"]),
            (nil, .days(30), [], [], ["EXPIRE 30"]),
            (nil, .never, [], [], ["EXPIRE NEVER"]),
            (nil, .days(30), [], [.days(5), .never], ["EXPIRE 5 USER"]),
            (nil, nil, [], [.days(0)], ["EXPIRE 0 USER"]),
            (nil, nil, [], [.never], ["EXPIRE NEVER"]),
            (120, .days(7), [120], [.days(7)], ["LOGIN-DELAY 120", "EXPIRE 7"]),
        ] as [(Int?, Expiry?, Set<Int>, Set<Expiry>, [String])]
    )
    func advertised(siteDelay: Int?, siteExpiry: Expiry?, delays: Set<Int>, expiries: Set<Expiry>, lines: [String]) {
        let policy = AdvertisedPolicy(
            siteLoginDelay: siteDelay,
            siteExpiry: siteExpiry,
            inUse: AccountSettingsInUse(expiries: expiries, loginDelays: delays)
        )
        var session = ServerSession(
            configuration: .init(
                loginDelaySeconds: policy.loginDelaySeconds,
                loginDelayPerUser: policy.loginDelayPerUser,
                expireDays: policy.expireDays,
                expirePerUser: policy.expirePerUser
            )
        )
        guard case .sendListing(_, let listing) = session.received(.command(.capa)) else {
            Issue.record("CAPA did not list")
            return
        }
        #expect(listing.lines.filter { $0.hasPrefix("LOGIN-DELAY") || $0.hasPrefix("EXPIRE") } == lines)
    }

    @Test("the history: waits, the clock set back, pruning by the longest delay, the bound")
    func history() async throws {
        let history = LoginHistory(path: nil)
        #expect(await history.secondsToWait(user: "alice", delay: 60, now: 1000) == nil)
        try await history.record(user: "alice", at: 1000, horizon: 60)
        #expect(await history.secondsToWait(user: "alice", delay: 60, now: 1000) == 60)
        #expect(await history.secondsToWait(user: "alice", delay: 60, now: 1059) == 1)
        #expect(await history.secondsToWait(user: "alice", delay: 60, now: 1060) == nil)
        #expect(await history.secondsToWait(user: "alice", delay: 60, now: 900) == nil, "a login in the future")
        #expect(await history.secondsToWait(user: "bob", delay: 60, now: 1000) == nil)
        try await history.record(user: "bob", at: 1100, horizon: 60)
        #expect(history.count == 1, "alice's login is older than any delay in force")
    }

    @Test("the history file: read once, written after each login, malformed lines skipped")
    func historyFile() async throws {
        try await TestFilesDirectory.with { directory in
            let path = directory + "/" + LoginHistory.fileName
            let history = LoginHistory(path: path)
            try await history.record(user: "alice", at: 5000, horizon: 600)
            try await history.record(user: "bob smith", at: 5100, horizon: 600)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text == "postoffice-last-logins 1\n5000 alice\n5100 bob smith\n")
            #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
            let reread = LoginHistory(path: path)
            #expect(await reread.secondsToWait(user: "bob smith", delay: 600, now: 5200) == 500)

            try "postoffice-last-logins 1\n10 alice\nx bob\n 20 carol\n30 \n40 dave\n".write(
                toFile: path,
                atomically: true,
                encoding: .utf8
            )
            let parsed = LoginHistory.parse(Array(try String(contentsOfFile: path, encoding: .utf8).utf8))
            #expect(parsed == ["alice": 10, "dave": 40])
            #expect(LoginHistory.parse(Array("something else\n10 alice\n".utf8)).isEmpty)
            try "garbage".write(toFile: path, atomically: true, encoding: .utf8)
            #expect(await LoginHistory(path: path).secondsToWait(user: "alice", delay: 10, now: 15) == nil)
        }
    }

    @Test("the history keeps at most its bound, newest first")
    func historyBound() async throws {
        let history = LoginHistory(path: nil)
        let extra = 5
        for index in 0..<(LoginHistory.maximumEntries + extra) {
            try await history.record(user: "user\(index)", at: 10_000 + index, horizon: 1_000_000)
        }
        #expect(history.count <= LoginHistory.maximumEntries)
        #expect(history.count >= LoginHistory.maximumEntries * 9 / 10)
        #expect(await history.secondsToWait(user: "user0", delay: 1_000_000, now: 200_000) == nil, "the oldest went")
        let newest = "user\(LoginHistory.maximumEntries + extra - 1)"
        #expect(await history.secondsToWait(user: newest, delay: 1_000_000, now: 200_000) != nil)
    }
}
