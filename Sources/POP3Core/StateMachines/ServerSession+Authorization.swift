// POP3Core: the AUTHORIZATION state (RFC 1939 §4, §7; RFC 2595 §4; RFC 5034 §4).

import MailCore

extension ServerSession {
    func stateIsAuthorization() -> Bool {
        if case .authorization = state { return true }
        return false
    }

    mutating func receive_authorization(_ line: ClientLine, _ auth: inout AuthorizationState) -> Action {
        if case .sasl(let mechanism, let steps, true) = auth.pending {
            switch line {
            case .saslResponse(let bytes):
                auth.pending = .sasl(mechanism: mechanism, steps: steps, awaitingResponse: false)
                return .stepSASL(bytes)
            case .saslCancel:
                auth.pending = .none
                return .send(.err("authentication cancelled"))
            case .command:
                // The shell parses with `expectation`, so this is a shell bug, not the peer's.
                preconditionFailure("command line during a SASL exchange: \(state)")
            }
        }
        guard case .command(let command) = line else {
            return badCommand(.err("no authentication exchange in progress"))
        }
        auth.commands += 1
        if auth.commands > configuration.limits.maximumUnauthenticatedCommands {
            state = .closed
            return .sendAndClose(.err("too many commands without login, closing"))
        }
        let pendingUser: String?
        if case .user(let name) = auth.pending { pendingUser = name } else { pendingUser = nil }
        switch auth.pending {
        case .none, .user: auth.pending = .none
        case .verifying, .sasl, .startingTLS, .openingMaildrop:
            // The shell does not read while it works for us.
            preconditionFailure("line while waiting for the shell: \(state)")
        }

        switch command {
        case .capa:
            return .sendListing(.ok("Capability list follows"), Listing(.capabilities(capabilities)))
        case .user(let name):
            guard cleartextAuthAllowed else {
                return .send(.err("clear text authentication requires TLS, use STLS", code: .auth))
            }
            guard UserName.isValid(name) else {
                return badCommand(.err("invalid user name", code: .auth))
            }
            auth.pending = .user(name)
            return .send(.ok("send PASS"))
        case .pass(let password):
            guard let user = pendingUser else {
                return badCommand(.err("send USER first"))
            }
            guard cleartextAuthAllowed else {
                return .send(.err("clear text authentication requires TLS, use STLS", code: .auth))
            }
            auth.pending = .verifying(mechanism: "USER")
            return .verifyPassword(user: user, password: password)
        case .apop(let name, let digest):
            guard let timestamp = configuration.apopTimestamp else {
                return badCommand(.err("APOP not available"))
            }
            auth.pending = .verifying(mechanism: "APOP")
            guard UserName.isValid(name) else {
                return .rejectLogin(user: nil, mechanism: "APOP", reason: "invalid user name")
            }
            return .verifyAPOP(user: name, digest: digest, timestamp: timestamp)
        case .auth(let mechanism, let initialResponse):
            guard configuration.saslMechanisms.contains(mechanism) else {
                return .send(.err("unsupported SASL mechanism"))
            }
            guard availableMechanisms.contains(mechanism) else {
                return .send(.err("clear text authentication requires TLS, use STLS", code: .auth))
            }
            auth.pending = .sasl(mechanism: mechanism, steps: 0, awaitingResponse: false)
            return .startSASL(mechanism: mechanism, initialResponse: initialResponse)
        case .stls:
            guard !tlsActive else { return .send(.err("TLS already active")) }
            guard configuration.stlsAvailable else { return .send(.err("STLS not available")) }
            auth.pending = .startingTLS
            return .startTLS(.ok("Begin TLS negotiation"))
        case .quit:
            state = .closed
            return .sendAndClose(.ok("\(configuration.implementation) POP3 server signing off"))
        case .utf8, .lang:
            return badCommand(.err("not supported"))
        case .stat, .list, .uidl, .retr, .top, .dele, .noop, .rset:
            return badCommand(.err("not authenticated"))
        case .unknown:
            return badCommand(.err("unknown command"))
        }
    }

    /// The SASL mechanism sent a challenge: write it as a continuation (RFC 5034 §4).
    public mutating func saslChallenge(_ bytes: [UInt8]) -> Action {
        guard case .authorization(var auth) = state, case .sasl(let mechanism, let steps, false) = auth.pending else {
            preconditionFailure("SASL challenge outside an exchange: \(state)")
        }
        guard steps < configuration.limits.maximumSASLSteps else {
            auth.pending = .verifying(mechanism: mechanism)
            state = .authorization(auth)
            return authenticationFailed(.malformed)
        }
        auth.pending = .sasl(mechanism: mechanism, steps: steps + 1, awaitingResponse: true)
        state = .authorization(auth)
        return .sendContinuation(bytes)
    }

    /// Credentials were right for `user` (the canonical account name): open the maildrop.
    public mutating func authenticationSucceeded(user: String) -> Action {
        guard case .authorization(var auth) = state else {
            preconditionFailure("authentication result outside AUTHORIZATION: \(state)")
        }
        let mechanism: String
        switch auth.pending {
        case .verifying(let name), .sasl(let name, _, _): mechanism = name
        case .none, .user, .startingTLS, .openingMaildrop:
            preconditionFailure("authentication result without a login: \(state)")
        }
        guard UserName.isValid(user) else {
            // The account database returned a name unsafe for the store: treat as failure.
            auth.pending = .verifying(mechanism: mechanism)
            state = .authorization(auth)
            return authenticationFailed(.invalidCredentials)
        }
        auth.pending = .openingMaildrop(user: user, mechanism: mechanism)
        state = .authorization(auth)
        statistics.user = user
        statistics.mechanism = mechanism
        return .openMaildrop(user: user, mechanism: mechanism)
    }

    /// A login failed. The shell has already waited the failure delay.
    public mutating func authenticationFailed(_ failure: AuthenticationFailure) -> Action {
        guard case .authorization(var auth) = state else {
            preconditionFailure("authentication result outside AUTHORIZATION: \(state)")
        }
        auth.pending = .none
        let response: Response
        switch failure {
        case .invalidCredentials:
            auth.failures += 1
            response = .err("authentication failed", code: .auth)
        case .malformed:
            auth.failures += 1
            response = .err("authentication failed: protocol error", code: .auth)
        case .temporary:
            response = .err("authentication temporarily unavailable", code: .sysTemp)
        case .cancelled:
            response = .err("authentication cancelled")
        case .mechanismUnavailable:
            response = .err("unsupported SASL mechanism")
        }
        if auth.failures >= configuration.limits.maximumAuthFailures {
            state = .closed
            return .sendAndClose(.err("too many authentication failures, closing", code: .auth))
        }
        state = .authorization(auth)
        return .send(response)
    }

    /// STLS: the shell looked at the input buffered after the STLS line. Bytes there were
    /// sent before TLS and could be an injection (RFC 2595 §4, GUIDE B5): close. Otherwise
    /// TLS is now installed.
    public mutating func stlsRequested(bufferedBytes: Int) -> Action {
        guard case .authorization(var auth) = state, case .startingTLS = auth.pending else {
            preconditionFailure("STLS outcome without STLS: \(state)")
        }
        guard bufferedBytes == 0 else {
            state = .closed
            return .close
        }
        auth.pending = .none
        state = .authorization(auth)
        tlsActive = true
        return .wait
    }

    /// The maildrop is open and locked: enter TRANSACTION (RFC 1939 §4). `account` is what CAPA
    /// says of LOGIN-DELAY and EXPIRE from now on; without it, the configuration's values.
    public mutating func maildropOpened(_ messages: [MessageInfo], account: AccountCapabilities? = nil) -> Action {
        guard case .authorization(let auth) = state, case .openingMaildrop = auth.pending else {
            preconditionFailure("maildrop opened outside a login: \(state)")
        }
        self.account = account
        let transaction = TransactionState(messages: messages)
        state = .transaction(transaction)
        return .send(.ok("maildrop has \(messages.count) messages (\(transaction.liveOctets) octets)"))
    }

    /// The account logged in successfully less than its login delay ago: refuse this login
    /// with `[LOGIN-DELAY]` (RFC 2449 §6.5, §8.1.1) before its maildrop is opened. The session
    /// stays in AUTHORIZATION; this is not a failed login (the credentials were right).
    public mutating func loginDelayed(secondsLeft: Int) -> Action {
        guard case .authorization(var auth) = state, case .openingMaildrop = auth.pending else {
            preconditionFailure("login delay outside a login: \(state)")
        }
        auth.pending = .none
        state = .authorization(auth)
        statistics.user = nil
        statistics.mechanism = nil
        let unit = secondsLeft == 1 ? "second" : "seconds"
        return .send(.err("logged in too recently, try again in \(secondsLeft) \(unit)", code: .loginDelay))
    }

    /// The maildrop could not be opened; the session stays in AUTHORIZATION (RFC 1939 §7).
    public mutating func maildropOpenFailed(_ failure: MaildropFailure) -> Action {
        guard case .authorization(var auth) = state, case .openingMaildrop = auth.pending else {
            preconditionFailure("maildrop failure outside a login: \(state)")
        }
        auth.pending = .none
        state = .authorization(auth)
        statistics.user = nil
        statistics.mechanism = nil
        switch failure {
        case .inUse: return .send(.err("maildrop already locked by another session", code: .inUse))
        case .temporary: return .send(.err("maildrop temporarily unavailable", code: .sysTemp))
        case .permanent: return .send(.err("maildrop unavailable", code: .sysPerm))
        }
    }
}
