import MailCore
import POP3Core
import Testing

/// RFC 2449 §6.5 LOGIN-DELAY and §6.7 EXPIRE in the session: what CAPA says before and after
/// login, the `[LOGIN-DELAY]` refusal (§8.1.1), and the implicit DELE at UPDATE.
@Suite("ServerSession: LOGIN-DELAY and EXPIRE")
struct ServerSessionRetentionTests {
    private static let messages: [ServerSession.MessageInfo] = [
        .init(size: 10, uniqueID: "old-1", expiresOnRetrieval: true),
        .init(size: 20, uniqueID: "new-2"),
        .init(size: 30, uniqueID: "old-3", expiresOnRetrieval: true),
        .init(size: 40, uniqueID: "old-4", expiresOnRetrieval: true),
    ]

    private static func authenticated(_ configuration: ServerSession.Configuration = .init()) -> ServerSession {
        var configuration = configuration
        configuration.cleartextAllowedWithoutTLS = true
        var s = ServerSession(configuration: configuration)
        _ = s.received(.command(.user("alice")))
        _ = s.received(.command(.pass(Array("pw".utf8))))
        _ = s.authenticationSucceeded(user: "alice")
        return s
    }

    private static func capabilityLines(_ s: inout ServerSession) -> [String] {
        guard case .sendListing(_, let listing) = s.received(.command(.capa)) else { return [] }
        return listing.lines.filter { $0.hasPrefix("LOGIN-DELAY") || $0.hasPrefix("EXPIRE") }
    }

    @Test("before login the value for any user with USER; after login the account's own")
    func perUserCapabilities() {
        let configuration = ServerSession.Configuration(
            cleartextAllowedWithoutTLS: true,
            loginDelaySeconds: 900,
            loginDelayPerUser: true,
            expireDays: .some(5),
            expirePerUser: true
        )
        var s = ServerSession(configuration: configuration)
        #expect(Self.capabilityLines(&s) == ["LOGIN-DELAY 900 USER", "EXPIRE 5 USER"])
        var logged = Self.authenticated(configuration)
        _ = logged.maildropOpened(
            Self.messages,
            account: .init(loginDelaySeconds: 0, expireDays: .some(nil))
        )
        #expect(Self.capabilityLines(&logged) == ["LOGIN-DELAY 0", "EXPIRE NEVER"])
        // Without the account's values, TRANSACTION repeats the configuration's, without USER.
        var plain = Self.authenticated(configuration)
        _ = plain.maildropOpened(Self.messages)
        #expect(Self.capabilityLines(&plain) == ["LOGIN-DELAY 900", "EXPIRE 5"])
        // What is not advertised before login is not advertised after it.
        var none = Self.authenticated()
        _ = none.maildropOpened(Self.messages, account: .init())
        #expect(Self.capabilityLines(&none).isEmpty)
    }

    @Test("a login too soon gets -ERR [LOGIN-DELAY] and the session may log in again later")
    func loginDelayed() {
        var s = Self.authenticated()
        #expect(
            s.loginDelayed(secondsLeft: 42)
                == .send(.err("logged in too recently, try again in 42 seconds", code: .loginDelay))
        )
        #expect(!s.isInTransaction)
        #expect(s.statistics.user == nil)
        #expect(s.received(.command(.stat)) == .send(.err("not authenticated")))
        _ = s.received(.command(.user("alice")))
        #expect(
            s.received(.command(.pass(Array("pw".utf8)))) == .verifyPassword(user: "alice", password: Array("pw".utf8))
        )
        _ = s.authenticationSucceeded(user: "alice")
        #expect(
            s.loginDelayed(secondsLeft: 1)
                == .send(.err("logged in too recently, try again in 1 second", code: .loginDelay))
        )
        _ = s.received(.command(.user("alice")))
        _ = s.received(.command(.pass(Array("pw".utf8))))
        _ = s.authenticationSucceeded(user: "alice")
        #expect(s.maildropOpened(Self.messages) == .send(.ok("maildrop has 4 messages (100 octets)")))
    }

    @Test("QUIT removes the DELEd messages and the expiring ones this session RETRieved, not those it only TOPped")
    func implicitDele() {
        var s = Self.authenticated()
        _ = s.maildropOpened(Self.messages)
        for index in [0, 1] {
            // RETR 1 (expiring) and RETR 2 (not expiring).
            _ = s.received(.command(.retr(MessageNumber(exactly: index + 1)!)))
            s.messageStreamFinished(index: index, octets: 10, wholeMessage: true)
        }
        _ = s.received(.command(.top(MessageNumber(exactly: 3)!, lines: 0)))
        s.messageStreamFinished(index: 2, octets: 5, wholeMessage: false)
        _ = s.received(.command(.dele(MessageNumber(exactly: 2)!)))
        // RSET unmarks DELE, not what was retrieved.
        _ = s.received(.command(.rset))
        _ = s.received(.command(.dele(MessageNumber(exactly: 4)!)))
        #expect(s.received(.command(.quit)) == .commitDeletions([0, 3]))
        #expect(s.statistics.expired == 1)
        #expect(
            s.deletionsCommitted(success: true)
                == .sendAndClose(.ok("PostOffice POP3 server signing off (2 messages left)"))
        )
        #expect(s.statistics.deleted == 2)
        #expect(s.statistics.retrieved == 2)
    }

    @Test("a failed UPDATE counts nothing as expired")
    func failedUpdate() {
        var s = Self.authenticated()
        _ = s.maildropOpened(Self.messages)
        _ = s.received(.command(.retr(MessageNumber(exactly: 1)!)))
        s.messageStreamFinished(index: 0, octets: 10, wholeMessage: true)
        #expect(s.received(.command(.quit)) == .commitDeletions([0]))
        _ = s.deletionsCommitted(success: false)
        #expect(s.statistics.expired == 0)
        #expect(s.statistics.deleted == 0)
    }

    @Test("a stream of a message index outside the snapshot changes nothing")
    func outOfRangeStream() {
        var s = Self.authenticated()
        _ = s.maildropOpened(Self.messages)
        s.messageStreamFinished(index: 9, octets: 1, wholeMessage: true)
        #expect(s.received(.command(.quit)) == .commitDeletions([]))
    }
}
