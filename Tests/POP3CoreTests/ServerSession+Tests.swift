import MailCore
import POP3Core
import Testing

private typealias Action = ServerSession.Action

/// A listing action as a client reads it: the status line and the lines.
private struct Listed: Equatable {
    var header: Response
    var lines: [String]
}

private func listed(_ action: Action) -> Listed? {
    guard case .sendListing(let header, let listing) = action else { return nil }
    return Listed(header: header, lines: listing.lines)
}

private let messages: [ServerSession.MessageInfo] = [
    .init(size: 120, uniqueID: "uid-a"),
    .init(size: 200, uniqueID: "uid-b"),
]

private func session(_ configuration: ServerSession.Configuration = .init(cleartextAllowedWithoutTLS: true))
    -> ServerSession
{
    ServerSession(configuration: configuration)
}

/// A session logged in as alice with the two messages above.
private func loggedIn() -> ServerSession {
    var s = session()
    _ = s.received(.command(.user("alice")))
    _ = s.received(.command(.pass(Array("pw".utf8))))
    _ = s.authenticationSucceeded(user: "alice")
    _ = s.maildropOpened(messages)
    return s
}

@Suite("ServerSession: AUTHORIZATION")
struct ServerSessionAuthorizationTests {
    @Test func userPassLogin() {
        var s = session()
        #expect(s.greeting == .ok("PostOffice POP3 server ready"))
        #expect(s.received(.command(.user("alice"))) == .send(.ok("send PASS")))
        #expect(
            s.received(.command(.pass(Array("pw".utf8)))) == .verifyPassword(user: "alice", password: Array("pw".utf8))
        )
        #expect(s.authenticationSucceeded(user: "alice") == .openMaildrop(user: "alice", mechanism: "USER"))
        #expect(s.maildropOpened(messages) == .send(.ok("maildrop has 2 messages (320 octets)")))
        #expect(s.isInTransaction)
        #expect(s.statistics.user == "alice")
    }

    @Test func passWithoutUserAndUserNotImmediatelyBefore() {
        var s = session()
        #expect(s.received(.command(.pass([1]))) == .send(.err("send USER first")))
        _ = s.received(.command(.user("alice")))
        _ = s.received(.command(.capa))
        #expect(s.received(.command(.pass([1]))) == .send(.err("send USER first")))
    }

    @Test(arguments: ["a/b", "..", "a\u{1}b"])
    func invalidUserNames(_ name: String) {
        var s = session()
        #expect(s.received(.command(.user(name))) == .send(.err("invalid user name", code: .auth)))
        var apop = session(.init(apopTimestamp: "<1.2@h>"))
        #expect(
            apop.received(.command(.apop(name: name, digest: "x")))
                == .rejectLogin(user: nil, mechanism: "APOP", reason: "invalid user name")
        )
    }

    @Test func failedLoginsAndTheLimit() {
        var s = session()
        for attempt in 1...3 {
            _ = s.received(.command(.user("alice")))
            _ = s.received(.command(.pass([0x41])))
            let action = s.authenticationFailed(.invalidCredentials)
            if attempt < 3 {
                #expect(action == .send(.err("authentication failed", code: .auth)))
            } else {
                #expect(action == .sendAndClose(.err("too many authentication failures, closing", code: .auth)))
                #expect(s.isClosed)
            }
        }
    }

    @Test func temporaryFailureIsSysTempAndNotCounted() {
        var s = session(.init(limits: POP3Limits(maximumAuthFailures: 1), cleartextAllowedWithoutTLS: true))
        _ = s.received(.command(.user("alice")))
        _ = s.received(.command(.pass([0x41])))
        #expect(
            s.authenticationFailed(.temporary) == .send(.err("authentication temporarily unavailable", code: .sysTemp))
        )
        #expect(!s.isClosed)
    }

    @Test func cleartextRefusedWithoutTLS() {
        var s = session(.init(stlsAvailable: true))
        #expect(
            s.received(.command(.user("alice")))
                == .send(.err("clear text authentication requires TLS, use STLS", code: .auth))
        )
        #expect(
            s.received(.command(.auth(mechanism: "PLAIN", initialResponse: nil)))
                == .send(.err("clear text authentication requires TLS, use STLS", code: .auth))
        )
        #expect(
            s.received(.command(.auth(mechanism: "SCRAM-SHA-256", initialResponse: nil)))
                == .startSASL(mechanism: "SCRAM-SHA-256", initialResponse: nil)
        )
        let capabilities = s.capabilities
        #expect(!capabilities.contains(.user))
        #expect(capabilities.contains(.sasl(["SCRAM-SHA-256"])))
        #expect(capabilities.contains(.stls))
    }

    @Test func capabilitiesBeforeAndAfterSTLS() {
        var s = session(.init(stlsAvailable: true, loginDelaySeconds: 60, expireDays: .some(nil)))
        #expect(
            listed(s.received(.command(.capa)))
                == Listed(
                    header: .ok("Capability list follows"),
                    lines: [
                        "TOP", "UIDL", "SASL SCRAM-SHA-256", "STLS", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE",
                        "LOGIN-DELAY 60", "EXPIRE NEVER", "IMPLEMENTATION PostOffice",
                    ]
                )
        )
        #expect(s.received(.command(.stls)) == .startTLS(.ok("Begin TLS negotiation")))
        #expect(s.stlsRequested(bufferedBytes: 0) == .wait)
        #expect(s.tlsActive)
        #expect(
            listed(s.received(.command(.capa)))
                == Listed(
                    header: .ok("Capability list follows"),
                    lines: [
                        "TOP", "UIDL", "USER", "SASL PLAIN LOGIN SCRAM-SHA-256", "PIPELINING", "RESP-CODES",
                        "AUTH-RESP-CODE",
                        "LOGIN-DELAY 60", "EXPIRE NEVER", "IMPLEMENTATION PostOffice",
                    ]
                )
        )
        #expect(s.received(.command(.stls)) == .send(.err("TLS already active")))
    }

    @Test func stlsWithBufferedPlaintextCloses() {
        var s = session(.init(stlsAvailable: true))
        #expect(s.received(.command(.stls)) == .startTLS(.ok("Begin TLS negotiation")))
        #expect(s.stlsRequested(bufferedBytes: 6) == .close)
        #expect(s.isClosed)
    }

    @Test func stlsWithoutTLSConfiguredAndAfterLogin() {
        var s = session()
        #expect(s.received(.command(.stls)) == .send(.err("STLS not available")))
        var t = loggedIn()
        #expect(t.received(.command(.stls)) == .send(.err("not valid after login")))
    }

    @Test func saslExchange() {
        var s = session()
        #expect(
            s.received(.command(.auth(mechanism: "PLAIN", initialResponse: nil)))
                == .startSASL(mechanism: "PLAIN", initialResponse: nil)
        )
        #expect(s.saslChallenge([]) == .sendContinuation([]))
        #expect(s.expectation == .saslResponse)
        #expect(s.received(.saslResponse([1, 2])) == .stepSASL([1, 2]))
        #expect(s.expectation == .command)
        #expect(s.authenticationSucceeded(user: "alice") == .openMaildrop(user: "alice", mechanism: "PLAIN"))
    }

    @Test func saslCancelAndBadBase64() {
        var s = session()
        _ = s.received(.command(.auth(mechanism: "LOGIN", initialResponse: nil)))
        _ = s.saslChallenge(Array("Username:".utf8))
        #expect(s.received(.saslCancel) == .send(.err("authentication cancelled")))
        #expect(s.expectation == .command)
        _ = s.received(.command(.auth(mechanism: "LOGIN", initialResponse: nil)))
        _ = s.saslChallenge(Array("Username:".utf8))
        #expect(
            s.receivedMalformedLine(POP3ParserError(hint: "invalid base64 in SASL response"))
                == .send(.err("authentication aborted: invalid base64 in SASL response"))
        )
        #expect(s.expectation == .command)
    }

    @Test func saslStepLimit() {
        var s = session(.init(limits: POP3Limits(maximumSASLSteps: 2), cleartextAllowedWithoutTLS: true))
        _ = s.received(.command(.auth(mechanism: "PLAIN", initialResponse: nil)))
        #expect(s.saslChallenge([]) == .sendContinuation([]))
        _ = s.received(.saslResponse([]))
        #expect(s.saslChallenge([]) == .sendContinuation([]))
        _ = s.received(.saslResponse([]))
        #expect(s.saslChallenge([]) == .send(.err("authentication failed: protocol error", code: .auth)))
    }

    @Test func unknownMechanism() {
        var s = session()
        #expect(
            s.received(.command(.auth(mechanism: "CRAM-MD5", initialResponse: nil)))
                == .send(.err("unsupported SASL mechanism"))
        )
    }

    @Test func apop() {
        var s = session(.init(apopTimestamp: "<1896.697170952@dbc.mtview.ca.us>"))
        #expect(s.greeting == .ok("PostOffice POP3 server ready <1896.697170952@dbc.mtview.ca.us>"))
        #expect(
            s.received(.command(.apop(name: "mrose", digest: "c4c9334bac560ecc979e58001b3e22fb")))
                == .verifyAPOP(
                    user: "mrose",
                    digest: "c4c9334bac560ecc979e58001b3e22fb",
                    timestamp: "<1896.697170952@dbc.mtview.ca.us>"
                )
        )
        #expect(s.authenticationSucceeded(user: "mrose") == .openMaildrop(user: "mrose", mechanism: "APOP"))
        var off = session()
        #expect(off.received(.command(.apop(name: "mrose", digest: "x"))) == .send(.err("APOP not available")))
    }

    @Test(arguments: [
        Command.stat, .list(nil), .list(1), .uidl(nil), .retr(1), .top(1, lines: 1), .dele(1), .noop, .rset,
    ])
    func transactionCommandsRefused(_ command: Command) {
        var s = session()
        #expect(s.received(.command(command)) == .send(.err("not authenticated")))
    }

    @Test func unknownAndUnsupported() {
        var s = session()
        #expect(s.received(.command(.unknown(keyword: "XTND", arguments: []))) == .send(.err("unknown command")))
        #expect(s.received(.command(.utf8)) == .send(.err("not supported")))
        #expect(s.received(.command(.lang(nil))) == .send(.err("not supported")))
    }

    @Test func quitInAuthorization() {
        var s = session()
        #expect(s.received(.command(.quit)) == .sendAndClose(.ok("PostOffice POP3 server signing off")))
        #expect(s.isClosed)
        #expect(s.received(.command(.noop)) == .close)
    }

    @Test func maildropLockedOrBroken() {
        var s = session()
        _ = s.received(.command(.user("alice")))
        _ = s.received(.command(.pass([1])))
        _ = s.authenticationSucceeded(user: "alice")
        #expect(s.maildropOpenFailed(.inUse) == .send(.err("maildrop already locked by another session", code: .inUse)))
        #expect(!s.isInTransaction)
        _ = s.received(.command(.user("alice")))
        _ = s.received(.command(.pass([1])))
        _ = s.authenticationSucceeded(user: "alice")
        #expect(s.maildropOpenFailed(.temporary) == .send(.err("maildrop temporarily unavailable", code: .sysTemp)))
    }

    @Test func canonicalNameFromDatabaseIsValidatedToo() {
        var s = session()
        _ = s.received(.command(.user("alice")))
        _ = s.received(.command(.pass([1])))
        #expect(s.authenticationSucceeded(user: "../etc") == .send(.err("authentication failed", code: .auth)))
    }

    @Test func tooManyBadCommandsClose() {
        var s = session(.init(limits: POP3Limits(maximumBadCommands: 3)))
        #expect(s.received(.command(.unknown(keyword: "FOO", arguments: []))) == .send(.err("unknown command")))
        #expect(
            s.receivedMalformedLine(ExceededLineLengthLimit(actual: 300, maximum: 255)) == .send(.err("line too long"))
        )
        #expect(s.received(.command(.stat)) == .sendAndClose(.err("too many bad commands, closing")))
        #expect(s.isClosed)
    }

    @Test func endlessUserIsBounded() {
        var s = session(.init(limits: POP3Limits(maximumUnauthenticatedCommands: 5), cleartextAllowedWithoutTLS: true))
        for _ in 1...5 { #expect(s.received(.command(.user("alice"))) == .send(.ok("send PASS"))) }
        #expect(s.received(.command(.user("alice"))) == .sendAndClose(.err("too many commands without login, closing")))
    }

    @Test func timeout() {
        var s = loggedIn()
        #expect(s.timedOut() == .sendAndClose(.err("autologout: idle for too long")))
        #expect(s.isClosed)
    }
}

@Suite("ServerSession: TRANSACTION and UPDATE")
struct ServerSessionTransactionTests {
    @Test func listingsAndStat() {
        var s = loggedIn()
        #expect(s.received(.command(.stat)) == .send(.ok("2 320")))
        #expect(
            listed(s.received(.command(.list(nil))))
                == Listed(header: .ok("2 messages (320 octets)"), lines: ["1 120", "2 200"])
        )
        #expect(s.received(.command(.list(2))) == .send(.ok("2 200")))
        #expect(s.received(.command(.list(3))) == .send(.err("no such message")))
        #expect(
            listed(s.received(.command(.uidl(nil))))
                == Listed(header: .ok("unique-id listing follows"), lines: ["1 uid-a", "2 uid-b"])
        )
        #expect(s.received(.command(.uidl(1))) == .send(.ok("1 uid-a")))
    }

    @Test func retrAndTop() {
        var s = loggedIn()
        #expect(
            s.received(.command(.retr(1))) == .streamMessage(index: 0, header: .ok("120 octets"), bodyLineLimit: nil)
        )
        s.messageStreamFinished(index: 0, octets: 120, wholeMessage: true)
        #expect(
            s.received(.command(.top(2, lines: 5)))
                == .streamMessage(index: 1, header: .ok("top of message follows"), bodyLineLimit: 5)
        )
        s.messageStreamFinished(index: 1, octets: 50, wholeMessage: false)
        #expect(s.statistics.retrieved == 1)
        #expect(s.statistics.bytesSent == 170)
        #expect(s.received(.command(.retr(MessageNumber(exactly: 2_147_483_647)!))) == .send(.err("no such message")))
        #expect(
            s.received(.command(.top(MessageNumber(exactly: 9)!, lines: 2_147_483_648)))
                == .send(.err("no such message"))
        )
    }

    @Test func deleRsetAndDeletedMessages() {
        var s = loggedIn()
        #expect(s.received(.command(.dele(1))) == .send(.ok("message 1 deleted")))
        #expect(s.received(.command(.dele(1))) == .send(.err("message 1 already deleted")))
        #expect(s.received(.command(.retr(1))) == .send(.err("message 1 already deleted")))
        #expect(s.received(.command(.list(1))) == .send(.err("message 1 already deleted")))
        #expect(s.received(.command(.stat)) == .send(.ok("1 200")))
        #expect(
            listed(s.received(.command(.list(nil)))) == Listed(header: .ok("1 messages (200 octets)"), lines: ["2 200"])
        )
        #expect(s.received(.command(.rset)) == .send(.ok("maildrop has 2 messages (320 octets)")))
        #expect(s.received(.command(.stat)) == .send(.ok("2 320")))
    }

    @Test func quitCommitsOnlyMarkedMessages() {
        var s = loggedIn()
        _ = s.received(.command(.dele(2)))
        #expect(s.received(.command(.quit)) == .commitDeletions([1]))
        #expect(!s.isInTransaction)
        #expect(
            s.deletionsCommitted(success: true)
                == .sendAndClose(.ok("PostOffice POP3 server signing off (1 messages left)"))
        )
        #expect(s.statistics.deleted == 1)
        #expect(s.isClosed)
    }

    @Test func quitWithFailedCommit() {
        var s = loggedIn()
        _ = s.received(.command(.dele(1)))
        _ = s.received(.command(.quit))
        #expect(
            s.deletionsCommitted(success: false)
                == .sendAndClose(.err("some deleted messages not removed", code: .sysTemp))
        )
    }

    @Test func takeoverEndsWithoutUpdate() {
        var s = loggedIn()
        _ = s.received(.command(.dele(1)))
        #expect(s.maildropTakenOver() == .sendAndClose(.err("session taken over by a newer login", code: .inUse)))
        #expect(s.isClosed)
    }

    @Test(arguments: [
        Command.user("a"), .pass([1]), .apop(name: "a", digest: "b"), .auth(mechanism: "PLAIN", initialResponse: nil),
        .stls, .utf8,
    ])
    func authorizationCommandsRefused(_ command: Command) {
        var s = loggedIn()
        #expect(s.received(.command(command)) == .send(.err("not valid after login")))
    }

    @Test func capaAfterLoginHasNoLoginCapabilities() {
        var s = loggedIn()
        #expect(
            listed(s.received(.command(.capa)))
                == Listed(
                    header: .ok("Capability list follows"),
                    lines: [
                        "TOP", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "IMPLEMENTATION PostOffice",
                    ]
                )
        )
        #expect(s.received(.command(.noop)) == .send(.ok("")))
    }

    @Test func saslLineAfterLoginIsABadCommand() {
        var s = loggedIn()
        #expect(s.received(.saslResponse([1])) == .send(.err("no authentication exchange in progress")))
    }
}
