// POP3Server: logins for the connection loop: USER/PASS, APOP (RFC 1939 §7), SASL (RFC 5034).
import Accounts
import Crypto
import Logging
import POP3Core
import SASL

extension POP3ConnectionRunner {
    func verifyPassword(user: String, password: [UInt8]) async -> ServerSession.Action {
        switch await environment.configuration.accountProvider.verifyPassword(user: user, password: password) {
        case .success(let canonical):
            return loginSucceeded(user: canonical, mechanism: "USER")
        case .invalidCredentials:
            return await loginFailed(
                user: user,
                mechanism: "USER",
                reason: "invalid-credentials",
                failure: .invalidCredentials
            )
        case .temporaryFailure:
            return await loginFailed(user: user, mechanism: "USER", reason: "temporary-failure", failure: .temporary)
        }
    }

    func verifyAPOP(user: String, digest: String, timestamp: String) async -> ServerSession.Action {
        guard let secret = await environment.configuration.accountProvider.apopSecret(user: user) else {
            return await loginFailed(
                user: user,
                mechanism: "APOP",
                reason: "no-apop-secret",
                failure: .invalidCredentials
            )
        }
        guard APOP.verify(digest: digest, timestamp: timestamp, secret: secret) else {
            return await loginFailed(
                user: user,
                mechanism: "APOP",
                reason: "invalid-credentials",
                failure: .invalidCredentials
            )
        }
        return loginSucceeded(user: user, mechanism: "APOP")
    }

    func startSASL(name: String, initialResponse: [UInt8]?) async -> ServerSession.Action {
        guard var mechanism = environment.configuration.makeMechanism(SASLMechanismName(name)) else {
            return await loginFailed(user: nil, mechanism: name, reason: "no-mechanism", failure: .mechanismUnavailable)
        }
        saslCanonicalUser = nil
        let step = mechanism.start(initialResponse: initialResponse)
        self.mechanism = mechanism
        return await continueSASL(step)
    }

    /// Drives the mechanism through the checks it asks for until it wants to talk to the
    /// client again or has an outcome.
    func continueSASL(_ first: SASLServerAction) async -> ServerSession.Action {
        guard var mechanism = self.mechanism else { preconditionFailure("SASL without a mechanism") }
        // The exchange is over unless it goes back to the client with a challenge, which
        // puts the mechanism back.
        self.mechanism = nil
        let name = mechanism.name.rawValue
        var step = first
        let accounts = environment.configuration.accountProvider
        while true {
            switch step {
            case .challenge(let bytes):
                self.mechanism = mechanism
                return session.saslChallenge(bytes)
            case .verifyPassword(let authenticationID, let authorizationID, let password):
                // We do not support acting as another user (RFC 4616 §2 authzid).
                if let authorizationID, !authorizationID.isEmpty, authorizationID != authenticationID {
                    return await loginFailed(
                        user: authenticationID,
                        mechanism: name,
                        reason: "authzid-refused",
                        failure: .invalidCredentials
                    )
                }
                guard Accounts.UserName.isValid(authenticationID) else {
                    return await loginFailed(
                        user: nil,
                        mechanism: name,
                        reason: "invalid-user-name",
                        failure: .invalidCredentials
                    )
                }
                switch await accounts.verifyPassword(user: authenticationID, password: password) {
                case .success(let canonical):
                    saslCanonicalUser = canonical
                    step = mechanism.passwordVerified(true)
                case .invalidCredentials:
                    step = mechanism.passwordVerified(false)
                case .temporaryFailure:
                    return await loginFailed(
                        user: authenticationID,
                        mechanism: name,
                        reason: "temporary-failure",
                        failure: .temporary
                    )
                }
            case .lookUpSCRAMCredentials(let user):
                guard Accounts.UserName.isValid(user) else {
                    return await loginFailed(
                        user: nil,
                        mechanism: name,
                        reason: "invalid-user-name",
                        failure: .invalidCredentials
                    )
                }
                saslCanonicalUser = user
                step = mechanism.credentialsLookedUp(await accounts.scramCredentials(user: user))
            case .success(let user):
                return loginSucceeded(user: saslCanonicalUser ?? user, mechanism: name)
            case .failure(let failure):
                switch failure {
                case .cancelled:
                    return session.authenticationFailed(.cancelled)
                case .malformed:
                    return await loginFailed(
                        user: saslCanonicalUser,
                        mechanism: name,
                        reason: "malformed",
                        failure: .malformed
                    )
                case .authenticationFailed:
                    return await loginFailed(
                        user: saslCanonicalUser,
                        mechanism: name,
                        reason: "invalid-credentials",
                        failure: .invalidCredentials
                    )
                }
            }
        }
    }

    func loginSucceeded(user: String, mechanism: String) -> ServerSession.Action {
        environment.failureDelays.recordSuccess(address: peer.clientKey)
        logger.notice("\(LoginLog.success(user: user, peer: peer, tls: session.tlsActive, mechanism: mechanism))")
        return session.authenticationSucceeded(user: user)
    }

    /// Logs the failure, waits the growing per-address delay (counted failures only), then
    /// lets the session answer.
    func loginFailed(
        user: String?,
        mechanism: String,
        reason: String,
        failure: ServerSession.AuthenticationFailure
    ) async -> ServerSession.Action {
        logger.notice(
            "\(LoginLog.failure(user: user, peer: peer, tls: session.tlsActive, mechanism: mechanism, reason: reason))"
        )
        switch failure {
        case .invalidCredentials, .malformed:
            let delay = environment.failureDelays.recordFailure(address: peer.clientKey)
            if delay > .zero { try? await Task.sleep(for: delay) }
        case .temporary, .cancelled, .mechanismUnavailable:
            break
        }
        return session.authenticationFailed(failure)
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
