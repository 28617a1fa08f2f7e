// Greeting, STLS, CAPA and authentication (RFC 1939 §§4 and 7, RFC 2449 §5, RFC 2595 §4,
// RFC 5034 §4).

import Crypto
import Logging
import NIOConcurrencyHelpers
import NIOCore
import POP3Core
import SASL

extension POP3Connection {
    /// Everything between connecting and TRANSACTION; with no credentials (a probe), everything
    /// before the login: the greeting, STLS when configured, and CAPA.
    func start(credentials: POP3Credentials?) async throws {
        guard case .greeting(let greeting) = try await self.nextEvent() else {
            preconditionFailure("the first event is always the greeting")
        }
        guard greeting.status == .ok else {
            let text = greeting.text.isEmpty ? "" : ": \(greeting.text)"
            let kind: POP3ClientError.Kind = greeting.code == .inUse ? .inUse : .serverError
            throw POP3ClientError(
                kind: kind,
                message: "the server refused the session\(text)",
                responseCode: greeting.code?.rawValue
            )
        }
        if self.configuration.security == .startTLS {
            try await self.askCapabilities()
            guard self.state.withLockedValue({ $0.session.capabilities?.contains(.stls) ?? false }) else {
                throw POP3ClientError(
                    kind: .unsupported,
                    message:
                        "the server at \(self.configuration.host) does not offer STLS, so the connection cannot be "
                        + "secured; use implicit TLS, or plaintext if you really mean it"
                )
            }
            try await self.send([.stls])
            let event = try await self.nextEvent()
            switch event {
            case .startTLS:
                try await self.transport.startTLS(unparsedBytes: self.unparsedByteCount)
                self.state.withLockedValue { $0.session.tlsEstablished() }
            case .completed(_, let response):
                throw POP3ClientError(
                    kind: .tls,
                    message: "the server refused STLS: \(response.text)",
                    responseCode: response.code?.rawValue
                )
            default:
                throw POP3ClientError(kind: .protocolViolation, message: "unexpected reply to STLS")
            }
        }
        // RFC 2595 §4: capabilities learnt before TLS are discarded and asked again.
        try await self.askCapabilities()
        guard let credentials else { return }
        try await self.authenticate(
            credentials,
            greetingTimestamp: self.state.withLockedValue { $0.session.greetingTimestamp }
        )
        self.logger.debug("logged in", metadata: ["pop3.user": "\(credentials.user)"])
        // Capabilities may change after login (RFC 2449 §5); ask again if the server supports CAPA.
        if !self.capabilities.isEmpty { try await self.askCapabilities() }
    }

    /// CAPA (RFC 2449 §5). A server without CAPA answers `-ERR`: its capabilities are then empty.
    func askCapabilities() async throws {
        try await self.send([.capa])
        while true {
            switch try await self.nextEvent() {
            case .multiLineStarted, .line: continue
            case .multiLineCompleted(.capa), .completed(.capa, _): return
            default: throw POP3ClientError(kind: .protocolViolation, message: "unexpected reply to CAPA")
            }
        }
    }

    func authenticate(_ credentials: POP3Credentials, greetingTimestamp: String?) async throws {
        let offered = self.capabilities.lazy.compactMap { capability -> [String]? in
            if case .sasl(let mechanisms) = capability { return mechanisms }
            return nil
        }.first
        switch credentials {
        case .userPass(let user, let password):
            try await self.userPass(user: user, password: password)
        case .apop(let user, let password):
            guard let timestamp = greetingTimestamp else {
                throw POP3ClientError(
                    kind: .unsupported,
                    message: "the server's greeting has no APOP timestamp, so APOP cannot be used"
                )
            }
            let digest = Insecure.MD5.hash(data: Array((timestamp + password).utf8))
            let hex = digest.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
            try await self.login(.apop(name: user, digest: hex), user: user)
        case .sasl(let mechanism, let user, let password):
            try Self.requireOffered(mechanism, offered)
            try await self.sasl(mechanism, user: user, secret: password, initialResponseInline: true)
        case .oauth(let mechanism, let user, let token):
            try Self.requireOffered(mechanism, offered)
            try await self.sasl(mechanism, user: user, secret: token, initialResponseInline: false)
        case .automatic(let user, let password):
            // Over TLS the password is already protected in transit, and PLAIN works whatever
            // scheme the server stores (SCRAM needs SCRAM keys there, which most accounts lack,
            // and a failed attempt costs a login-failure delay). Without TLS, SCRAM keeps the
            // password off the wire, so it goes first.
            let preferred: [SASLMechanismName] =
                configuration.security == .plaintext ? [.scramSHA256, .plain] : [.plain, .scramSHA256]
            if let mechanism = preferred.first(where: { offered?.contains($0.rawValue) == true }) {
                try await self.sasl(mechanism, user: user, secret: password, initialResponseInline: true)
            } else {
                try await self.userPass(user: user, password: password)
            }
        }
    }

    private static func requireOffered(_ mechanism: SASLMechanismName, _ offered: [String]?) throws {
        // A server that lists SASL mechanisms and not this one would refuse it; one that lists
        // none may still accept AUTH (RFC 5034 §3 makes the CAPA tag a SHOULD).
        if let offered, !offered.contains(mechanism.rawValue) {
            throw POP3ClientError(
                kind: .unsupported,
                message: "the server does not offer SASL \(mechanism) (it offers \(offered.joined(separator: ", ")))"
            )
        }
    }

    private func userPass(user: String, password: String) async throws {
        try await self.send([.user(user)])
        let response = try await self.awaitCompletion(of: .user(user))
        guard response.status == .ok else { throw Self.loginError(response, user: user) }
        try await self.login(.pass(Array(password.utf8)), user: user)
    }

    /// Sends PASS or APOP; `+OK` means TRANSACTION.
    private func login(_ command: Command, user: String) async throws {
        try await self.send([command])
        let response = try await self.awaitCompletion(of: command)
        guard response.status == .ok else { throw Self.loginError(response, user: user) }
    }

    /// RFC 5034 §4. The initial response goes on the AUTH line when allowed and short enough
    /// (255 octets for the whole line, RFC 2449 §4); otherwise it is sent after an empty `+`.
    private func sasl(
        _ mechanismName: SASLMechanismName,
        user: String,
        secret: String,
        initialResponseInline: Bool
    ) async throws {
        guard
            var mechanism = makeSASLClientMechanism(
                mechanismName,
                user: user,
                secret: secret,
                scramMaximumIterations: configuration.scramMaximumIterations
            )
        else {
            throw POP3ClientError(
                kind: .unsupported,
                message: "SASL \(mechanismName) is not implemented by this client"
            )
        }
        var pendingInitial = try Self.saslStep { try mechanism.initialResponse() }
        var command = Command.auth(mechanism: mechanismName.rawValue, initialResponse: nil)
        if let initial = pendingInitial, initialResponseInline {
            let inline = Command.auth(mechanism: mechanismName.rawValue, initialResponse: initial)
            if inline.encodedBytes.count <= 255 {
                command = inline
                pendingInitial = nil
            }
        }
        try await self.send([command])
        var steps = 0
        while true {
            switch try await self.nextEvent() {
            case .saslChallenge(let challenge):
                steps += 1
                guard steps <= 16 else {
                    throw POP3ClientError(kind: .protocolViolation, message: "the server's SASL exchange does not end")
                }
                if let initial = pendingInitial {
                    guard challenge.isEmpty else {
                        throw POP3ClientError(
                            kind: .protocolViolation,
                            message: "the server sent a SASL challenge before the initial response"
                        )
                    }
                    pendingInitial = nil
                    try await self.sendSASLResponse(initial)
                } else {
                    let response = try Self.saslStep { try mechanism.respond(to: challenge) }
                    try await self.sendSASLResponse(response)
                }
            case .completed(_, let response):
                guard response.status == .ok else { throw Self.loginError(response, user: user) }
                do {
                    try mechanism.verifyCompletion()
                } catch {
                    throw POP3ClientError(
                        kind: .authentication,
                        message:
                            "the server accepted the login but could not prove it knows the password (SASL \(mechanismName)); "
                            + "it may be an impostor"
                    )
                }
                return
            default:
                throw POP3ClientError(kind: .protocolViolation, message: "unexpected reply during AUTH")
            }
        }
    }

    private static func saslStep<T>(_ step: () throws -> T) throws -> T {
        do {
            return try step()
        } catch let error as SASLClientError where error.code == .excessiveIterationCount {
            // Not a broken server but a login we refuse to compute: an authentication failure
            // (a person raises the limit, or asks the server's operator why).
            throw POP3ClientError(
                kind: .authentication,
                message: "\(error.reason); refused (raise scram_max_iterations, at most \(SCRAM.maximumIterations), "
                    + "to accept it)"
            )
        } catch {
            throw POP3ClientError(
                kind: .protocolViolation,
                message: "the server's SASL challenge is malformed: \(error)"
            )
        }
    }

    private static func loginError(_ response: Response, user: String) -> POP3ClientError {
        let text = response.text.isEmpty ? "" : ": \(response.text)"
        let kind: POP3ClientError.Kind = response.code == .inUse ? .inUse : .authentication
        let what =
            kind == .inUse
            ? "the mailbox of \(user) is in use by another session" : "the server refused the login for \(user)"
        return POP3ClientError(kind: kind, message: what + text, responseCode: response.code?.rawValue)
    }
}
