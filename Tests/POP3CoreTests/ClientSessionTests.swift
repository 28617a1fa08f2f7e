import NIOCore
import POP3Core
import Testing

@Suite("Client session state machine")
struct ClientSessionTests {
    private func ok(_ text: String = "") -> ClientResponsePart { .status(.ok, code: nil, text: text) }

    /// A session past the greeting and login, with `capabilities` from CAPA.
    private func loggedIn(capabilities: [String]) throws -> ClientSession {
        var session = ClientSession()
        _ = try session.received(ok("ready"))
        try session.willSend(.capa)
        _ = try session.received(ok())
        for line in capabilities { _ = try session.received(.multiLineLine(ByteBuffer(string: line))) }
        _ = try session.received(.multiLineEnd)
        try session.willSend(.user("alice"))
        _ = try session.received(ok())
        try session.willSend(.pass(Array("secret".utf8)))
        #expect(try session.received(ok()) == .completed(.pass(Array("secret".utf8)), .ok("")))
        #expect(session.state == .transaction)
        return session
    }

    @Test func greetingCarriesTheAPOPTimestamp() throws {
        var session = ClientSession()
        #expect(session.expectedShape == .singleLine)
        #expect(throws: ClientSessionError.self) { try session.willSend(.capa) }
        let event = try session.received(ok("POP3 server ready <1896.697170952@dbc.mtview.ca.us>"))
        #expect(event == .greeting(.ok("POP3 server ready <1896.697170952@dbc.mtview.ca.us>")))
        #expect(session.greetingTimestamp == "<1896.697170952@dbc.mtview.ca.us>")
        #expect(session.state == .authorization)
    }

    @Test func errGreetingClosesTheSession() throws {
        var session = ClientSession()
        _ = try session.received(.status(.err, code: "SYS/TEMP", text: "busy"))
        #expect(session.state == .closed)
    }

    @Test func capaIsCollectedAndDroppedAfterSTLS() throws {
        var session = ClientSession()
        _ = try session.received(ok())
        try session.willSend(.capa)
        #expect(session.expectedShape == .multiLineIfOK(.lines))
        #expect(try session.received(ok()) == .multiLineStarted(.capa, .ok("")))
        _ = try session.received(.multiLineLine(ByteBuffer(string: "STLS")))
        _ = try session.received(.multiLineLine(ByteBuffer(string: "PIPELINING")))
        #expect(try session.received(.multiLineEnd) == .multiLineCompleted(.capa))
        #expect(session.capabilities == [.stls, .pipelining])
        #expect(session.supportsPipelining)

        try session.willSend(.stls)
        #expect(throws: ClientSessionError.self) { try session.willSend(.user("x")) }
        #expect(try session.received(ok("begin TLS")) == .startTLS)
        #expect(session.state == .negotiatingTLS)
        #expect(session.capabilities == nil)
        #expect(!session.supportsPipelining)
        #expect(throws: ClientSessionError.self) { try session.willSend(.capa) }
        session.tlsEstablished()
        #expect(session.state == .authorization)
        try session.willSend(.capa)
    }

    @Test func transactionCommandsNeedLogin() throws {
        var session = ClientSession()
        _ = try session.received(ok())
        #expect(throws: ClientSessionError.self) { try session.willSend(.stat) }
        #expect(throws: ClientSessionError.self) { try session.willSend(.retr(1)) }
    }

    @Test func loginCommandsAreRefusedAfterLogin() throws {
        var session = try loggedIn(capabilities: [])
        #expect(throws: ClientSessionError.self) { try session.willSend(.user("bob")) }
        #expect(throws: ClientSessionError.self) { try session.willSend(.stls) }
    }

    @Test func pipeliningNeedsTheCapability() throws {
        var session = try loggedIn(capabilities: ["USER"])
        try session.willSend(.retr(1))
        #expect(throws: ClientSessionError.self) { try session.willSend(.retr(2)) }
    }

    @Test func pipelinedRepliesAreMatchedInOrder() throws {
        var session = try loggedIn(capabilities: ["PIPELINING"])
        try session.willSend(.retr(1))
        try session.willSend(.dele(1))
        try session.willSend(.retr(2))
        #expect(session.outstandingCommands == [.retr(1), .dele(1), .retr(2)])
        #expect(session.expectedShape == .multiLineIfOK(.content))
        #expect(try session.received(ok()) == .multiLineStarted(.retr(1), .ok("")))
        #expect(
            try session.received(.multiLineBytes(ByteBuffer(string: "a\r\n")))
                == .content(.retr(1), ByteBuffer(string: "a\r\n"))
        )
        #expect(try session.received(.multiLineEnd) == .multiLineCompleted(.retr(1)))
        #expect(session.expectedShape == .singleLine)
        #expect(try session.received(ok()) == .completed(.dele(1), .ok("")))
        #expect(
            try session.received(.status(.err, code: nil, text: "no such message"))
                == .completed(.retr(2), .err("no such message"))
        )
        #expect(session.outstandingCommands.isEmpty)
        #expect(throws: ClientSessionError.self) { try session.received(ok()) }
    }

    @Test func quitEndsTheSession() throws {
        var session = try loggedIn(capabilities: ["PIPELINING"])
        try session.willSend(.dele(1))
        #expect(throws: ClientSessionError.self) { try session.willSend(.quit) }  // waits for DELE's reply
        _ = try session.received(ok())
        try session.willSend(.quit)
        #expect(throws: ClientSessionError.self) { try session.willSend(.noop) }
        _ = try session.received(ok("bye"))
        #expect(session.state == .closed)
    }

    @Test func saslChallengesAreDecodedAndAnsweredOnce() throws {
        var session = ClientSession()
        _ = try session.received(ok())
        try session.willSend(.auth(mechanism: "LOGIN", initialResponse: nil))
        #expect(session.expectedShape == .saslContinuationOrFinal)
        #expect(throws: ClientSessionError.self) { try session.willSendSASLResponse() }
        #expect(try session.received(.saslChallenge("VXNlcm5hbWU6")) == .saslChallenge(Array("Username:".utf8)))
        #expect(throws: ClientSessionError.self) { try session.received(.saslChallenge("")) }  // unanswered
        try session.willSendSASLResponse()
        #expect(try session.received(.saslChallenge("")) == .saslChallenge([]))
        try session.willSendSASLResponse()
        #expect(try session.received(ok()) == .completed(.auth(mechanism: "LOGIN", initialResponse: nil), .ok("")))
        #expect(session.state == .transaction)
    }

    @Test func badBase64ChallengeIsThePeersFault() throws {
        var session = ClientSession()
        _ = try session.received(ok())
        try session.willSend(.auth(mechanism: "PLAIN", initialResponse: nil))
        let error = try #require(throws: ClientSessionError.self) { try session.received(.saslChallenge("a*b")) }
        #expect(error.isPeerFault)
    }

    @Test func failedLoginStaysInAuthorization() throws {
        var session = ClientSession()
        _ = try session.received(ok())
        try session.willSend(.user("alice"))
        _ = try session.received(ok())
        try session.willSend(.pass(Array("nope".utf8)))
        #expect(
            try session.received(.status(.err, code: "AUTH", text: "no"))
                == .completed(.pass(Array("nope".utf8)), .err("no", code: .auth))
        )
        #expect(session.state == .authorization)
    }
}
