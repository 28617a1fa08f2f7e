import Accounts
import Crypto
import Logging
// POP3Server: logins on the connection's event loop: USER/PASS, APOP (RFC 1939 §7), SASL (RFC 5034).
import MailCore
import NIOCore
import POP3Core
import SASL
import ServerMetrics

extension POP3ServerHandler {
    func verifyPassword(user: String, password: [UInt8]) {
        if self.refuseIfBanned(user: user, mechanism: "USER") { return }
        let accounts = self.environment.configuration.accountProvider
        let environment = self.environment
        let peer = self.peer
        self.loginStarted = .now
        self.run({
            await environment.checkPassword(for: peer) { await accounts.verifyPassword(user: user, password: password) }
        }) { handler, result in
            switch result {
            case .success(let canonical):
                handler.loginSucceeded(user: canonical, mechanism: "USER")
            case .invalidCredentials:
                handler.loginFailed(
                    user: user,
                    mechanism: "USER",
                    reason: "invalid-credentials",
                    failure: .invalidCredentials
                )
            case .temporaryFailure:
                handler.loginFailed(user: user, mechanism: "USER", reason: "temporary-failure", failure: .temporary)
            }
        }
    }

    private enum APOPOutcome: Sendable {
        case match
        case mismatch
        case noSecret
    }

    func verifyAPOP(user: String, digest: String, timestamp: String) {
        if self.refuseIfBanned(user: user, mechanism: "APOP") { return }
        let accounts = self.environment.configuration.accountProvider
        self.loginStarted = .now
        self.run({ () -> APOPOutcome in
            guard let secret = await accounts.apopSecret(user: user) else { return .noSecret }
            return APOP.verify(digest: digest, timestamp: timestamp, secret: secret) ? .match : .mismatch
        }) { handler, outcome in
            switch outcome {
            case .match:
                handler.loginSucceeded(user: user, mechanism: "APOP")
            case .mismatch:
                handler.loginFailed(
                    user: user,
                    mechanism: "APOP",
                    reason: "invalid-credentials",
                    failure: .invalidCredentials
                )
            case .noSecret:
                handler.loginFailed(
                    user: user,
                    mechanism: "APOP",
                    reason: "no-apop-secret",
                    failure: .invalidCredentials
                )
            }
        }
    }

    func startSASL(name: String, initialResponse: [UInt8]?) {
        guard var mechanism = self.environment.configuration.makeMechanism(SASLMechanismName(name)) else {
            self.loginFailed(user: nil, mechanism: name, reason: "no-mechanism", failure: .mechanismUnavailable)
            return
        }
        self.saslCanonicalUser = nil
        let step = mechanism.start(initialResponse: initialResponse)
        self.continueSASL(mechanism, step)
    }

    func stepSASL(_ response: [UInt8]) {
        guard var mechanism = self.mechanism else { preconditionFailure("SASL step without a mechanism") }
        let step = mechanism.received(response: response)
        self.continueSASL(mechanism, step)
    }

    /// Drives the mechanism through the checks it asks for until it wants to talk to the
    /// client again or has an outcome. Account look-ups run off the loop, one at a time.
    private func continueSASL(_ mechanism: any SASLServerMechanism, _ step: SASLServerAction) {
        // The exchange is over unless it goes back to the client with a challenge, which
        // puts the mechanism back.
        self.mechanism = nil
        let name = mechanism.name.rawValue
        let accounts = self.environment.configuration.accountProvider
        switch step {
        case .challenge(let bytes):
            self.mechanism = mechanism
            self.perform(self.session.saslChallenge(bytes))
        case .verifyPassword(let authenticationID, let authorizationID, let password):
            // We do not support acting as another user (RFC 4616 §2 authzid).
            if let authorizationID, !authorizationID.isEmpty, authorizationID != authenticationID {
                self.loginFailed(
                    user: authenticationID,
                    mechanism: name,
                    reason: "authzid-refused",
                    failure: .invalidCredentials
                )
                return
            }
            guard UserName.isValid(authenticationID) else {
                self.loginFailed(user: nil, mechanism: name, reason: "invalid-user-name", failure: .invalidCredentials)
                return
            }
            if self.refuseIfBanned(user: authenticationID, mechanism: name) { return }
            self.loginStarted = .now
            let environment = self.environment
            let peer = self.peer
            let check: @Sendable () async -> AuthenticationResult = {
                await environment.checkPassword(for: peer) {
                    await accounts.verifyPassword(user: authenticationID, password: password)
                }
            }
            self.run(check) { handler, result in
                var mechanism = mechanism
                switch result {
                case .success(let canonical):
                    handler.saslCanonicalUser = canonical
                    let next = mechanism.passwordVerified(true)
                    handler.continueSASL(mechanism, next)
                case .invalidCredentials:
                    // The failure is logged, and counted for bans, under the name tried.
                    handler.saslCanonicalUser = authenticationID
                    let next = mechanism.passwordVerified(false)
                    handler.continueSASL(mechanism, next)
                case .temporaryFailure:
                    handler.loginFailed(
                        user: authenticationID,
                        mechanism: name,
                        reason: "temporary-failure",
                        failure: .temporary
                    )
                }
            }
        case .lookUpSCRAMCredentials(let user):
            guard UserName.isValid(user) else {
                self.loginFailed(user: nil, mechanism: name, reason: "invalid-user-name", failure: .invalidCredentials)
                return
            }
            if self.refuseIfBanned(user: user, mechanism: name) { return }
            self.saslCanonicalUser = user
            self.loginStarted = .now
            self.run({ await accounts.scramCredentials(user: user) }) { handler, credentials in
                var mechanism = mechanism
                let next = mechanism.credentialsLookedUp(credentials)
                handler.continueSASL(mechanism, next)
            }
        case .success(let user):
            self.loginSucceeded(user: self.saslCanonicalUser ?? user, mechanism: name)
        case .failure(let failure):
            switch failure {
            case .cancelled:
                self.perform(self.session.authenticationFailed(.cancelled))
            case .malformed:
                self.loginFailed(
                    user: self.saslCanonicalUser,
                    mechanism: name,
                    reason: "malformed",
                    failure: .malformed
                )
            case .authenticationFailed:
                self.loginFailed(
                    user: self.saslCanonicalUser,
                    mechanism: name,
                    reason: "invalid-credentials",
                    failure: .invalidCredentials
                )
            }
        }
    }

    func loginSucceeded(user: String, mechanism: String) {
        self.environment.failureDelays.recordSuccess(address: self.peer.clientKey)
        self.environment.bans?.recordSuccess(.user(user))
        self.logger.notice(
            "\(LoginLog.success(user: user, peer: self.peer, tls: self.session.tlsActive, mechanism: mechanism))"
        )
        self.environment.configuration.metrics.login(
            result: .success,
            mechanism: mechanism,
            duration: self.takeLoginDuration()
        )
        self.onLogin(user)
        self.perform(self.session.authenticationSucceeded(user: user))
    }

    /// Logs the failure, waits the growing per-address delay (counted failures only), then
    /// lets the session answer.
    func loginFailed(
        user: String?,
        mechanism: String,
        reason: String,
        failure: ServerSession.AuthenticationFailure
    ) {
        self.logger.notice(
            "\(LoginLog.failure(user: user, peer: self.peer, tls: self.session.tlsActive, mechanism: mechanism, reason: reason))"
        )
        let metrics = self.environment.configuration.metrics
        let result: ServerMetrics.LoginResult =
            switch failure {
            case .invalidCredentials, .cancelled: .invalidCredentials
            case .malformed: .malformed
            case .temporary: .temporaryFailure
            case .mechanismUnavailable: .mechanismUnavailable
            }
        metrics.login(result: result, mechanism: mechanism, duration: self.takeLoginDuration())
        switch failure {
        case .invalidCredentials, .malformed:
            if self.recordFailureForBans(user: user) {
                // This failure banned the client's address: answer, then close.
                self.perform(self.session.authenticationFailed(failure))
                self.closeUnlessClosing()
                return
            }
            let delay = self.environment.failureDelays.recordFailure(address: self.peer.clientKey)
            if delay > .zero {
                metrics.authFailureDelayed()
                self.afterDelay(TimeAmount(delay)) { handler in
                    handler.perform(handler.session.authenticationFailed(failure))
                }
                return
            }
        case .temporary, .cancelled, .mechanismUnavailable:
            break
        }
        self.perform(self.session.authenticationFailed(failure))
    }

    /// The time since the current login's check started, once.
    private func takeLoginDuration() -> Duration? {
        defer { self.loginStarted = nil }
        return self.loginStarted.map { ContinuousClock.now - $0 }
    }
}

extension POP3ServerHandler {
    /// Answers a login for a banned user name, or from a banned address, without checking
    /// the secret (and without counting it again); a banned address is then disconnected.
    /// Returns whether it did. Trusted networks are exempt.
    func refuseIfBanned(user: String, mechanism: String) -> Bool {
        guard let bans = self.environment.bans, !self.environment.isTrusted(self.peer) else { return false }
        let now = BanFile.now()
        let addressBanned = bans.isBanned(.address(self.peer.clientKey), now: now)
        guard addressBanned || bans.isBanned(.user(user), now: now) else { return false }
        self.logger.notice(
            "\(LoginLog.failure(user: user, peer: self.peer, tls: self.session.tlsActive, mechanism: mechanism, reason: "banned"))"
        )
        self.perform(self.session.authenticationFailed(.invalidCredentials))
        if addressBanned { self.closeUnlessClosing() }
        return true
    }

    /// Closes once the answers are out, unless the session already does.
    private func closeUnlessClosing() {
        switch self.phase {
        case .closing, .closed: break
        case .ready, .waiting, .listing: self.perform(.close)
        }
    }

    /// Counts a failed login against the client's address and the user name; logs the bans
    /// it causes. Returns whether the address is now banned.
    func recordFailureForBans(user: String?) -> Bool {
        guard let bans = self.environment.bans, !self.environment.isTrusted(self.peer) else { return false }
        var keys: [BanKey] = [.address(self.peer.clientKey)]
        if let user, LoginLog.printable(user) == user { keys.append(.user(user)) }
        let banned = bans.recordFailure(keys, now: BanFile.now())
        let metrics = self.environment.configuration.metrics
        for key in banned {
            self.logger.warning("\(LoginLog.ban(key, peer: self.peer, policy: bans.policy))")
            switch key {
            case .address: metrics.banned(.address)
            case .user: metrics.banned(.user)
            }
        }
        return banned.contains(.address(self.peer.clientKey))
    }
}

/// APOP (RFC 1939 §7): the timestamp banner and the digest check.
enum APOP {
    /// `<pid.random@host>`: unique per greeting, as RFC 1939 §7 asks of the timestamp.
    static func makeTimestamp(hostname: String) -> String {
        "<\(ProcessID.current).\(UInt64.random(in: 1...UInt64.max))@\(hostname)>"
    }

    /// MD5(timestamp ‖ secret) as 32 lower-case hex digits, compared in constant time.
    static func verify(digest: String, timestamp: String, secret: [UInt8]) -> Bool {
        let expected = Insecure.MD5.hash(data: Array(timestamp.utf8) + secret)
            .map { byte in String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
            }
            .joined()
        let given = Array(digest.lowercased().utf8)
        let wanted = Array(expected.utf8)
        guard given.count == wanted.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(given, wanted) { difference |= a ^ b }
        return difference == 0
    }
}
