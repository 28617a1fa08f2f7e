// Client side of SCRAM-SHA-256 (RFC 5802 §5, RFC 7677) without channel binding.

/// The client side of SCRAM-SHA-256, which also authenticates the server.
///
/// The client-first message is the initial response (if the caller could not send it, answering
/// the server's empty challenge sends it). The server-final message `v=` arrives as a challenge
/// (RFC 5034 §4 has no additional data with success): the client checks the server signature
/// there and answers with an empty response. ``verifyCompletion()`` throws unless that check
/// passed, so a server that says `+OK` without proving it knows the password is not trusted.
///
/// We send the GS2 flag `n` (no channel binding support).
///
/// - SeeAlso: [RFC 5802 §5](https://datatracker.ietf.org/doc/html/rfc5802#section-5)
public struct SCRAMSHA256ClientMechanism: SASLClientMechanism {
    private enum State: Hashable, Sendable {
        case initial
        case sentClientFirst(bare: [UInt8], answeredEmptyChallenge: Bool)
        case sentClientFinal(expectedServerSignature: [UInt8])
        case verified
        case failed
    }

    private static let gs2Header: [UInt8] = Array("n,,".utf8)

    private let user: String
    private let password: String
    private let makeNonce: @Sendable () -> String
    private var state: State = .initial

    public var name: SASLMechanismName { .scramSHA256 }

    /// Creates a mechanism for one exchange.
    public init(user: String, password: String) {
        self.init(user: user, password: password, nonceGenerator: SCRAM.randomNonce)
    }

    /// For tests: a fixed client nonce (RFC 7677 §3 test vector).
    init(user: String, password: String, nonceGenerator: @escaping @Sendable () -> String) {
        self.user = user
        self.password = password
        self.makeNonce = nonceGenerator
    }

    public mutating func initialResponse() throws -> [UInt8]? {
        guard case .initial = state else { throw SASLClientError.unexpectedChallenge(name) }
        let bare = try makeClientFirstBare()
        state = .sentClientFirst(bare: bare, answeredEmptyChallenge: false)
        return Self.gs2Header + bare
    }

    public mutating func respond(to challenge: [UInt8]) throws -> [UInt8] {
        switch state {
        case .initial:
            guard challenge.isEmpty else { throw fail(.unexpectedChallenge(name)) }
            let bare = try makeClientFirstBare()
            state = .sentClientFirst(bare: bare, answeredEmptyChallenge: true)
            return Self.gs2Header + bare
        case .sentClientFirst(let bare, let answeredEmptyChallenge):
            if challenge.isEmpty {
                // The caller did not send our initial response after all (RFC 5034 §4, 255 octets):
                // the server's empty challenge asks for it, once.
                guard !answeredEmptyChallenge else { throw fail(.unexpectedChallenge(name)) }
                state = .sentClientFirst(bare: bare, answeredEmptyChallenge: true)
                return Self.gs2Header + bare
            }
            return try handleServerFirst(challenge, clientFirstBare: bare)
        case .sentClientFinal(let expected):
            try handleServerFinal(challenge, expectedServerSignature: expected)
            state = .verified
            return []
        case .verified, .failed:
            throw fail(.unexpectedChallenge(name))
        }
    }

    public func verifyCompletion() throws {
        guard case .verified = state else {
            throw SASLClientError(code: .serverNotAuthenticated, reason: "the server did not send a valid v=")
        }
    }

    private func makeClientFirstBare() throws -> [UInt8] {
        let preparedUser: String
        do {
            preparedUser = try SASLprep.prepare(user)
        } catch {
            throw SASLClientError.invalidCredentialCharacters("user name: \(error)")
        }
        guard !preparedUser.isEmpty else { throw SASLClientError.invalidCredentialCharacters("empty user name") }
        let nonce = Array(makeNonce().utf8)
        guard SCRAMSyntax.isValidNonce(nonce) else {
            throw SASLClientError.invalidCredentialCharacters("invalid client nonce")
        }
        return Array("n=".utf8) + SCRAMSyntax.encodeSASLName(preparedUser) + Array(",r=".utf8) + nonce
    }

    private mutating func handleServerFirst(_ message: [UInt8], clientFirstBare: [UInt8]) throws -> [UInt8] {
        // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
        guard let attributes = SCRAMSyntax.attributes(message[...]), attributes.count >= 3 else {
            throw fail(.malformedChallenge("invalid server-first-message"))
        }
        if attributes[0].key == UInt8(ascii: "m") {
            throw fail(.malformedChallenge("unsupported mandatory extension"))
        }
        guard attributes[0].key == UInt8(ascii: "r"), attributes[1].key == UInt8(ascii: "s"),
            attributes[2].key == UInt8(ascii: "i")
        else {
            throw fail(.malformedChallenge("server-first-message attributes out of order"))
        }
        let nonce = Array(attributes[0].value)
        // The combined nonce starts with ours and adds the server's part (RFC 5802 §5.1 `r`).
        let clientNonce = clientFirstBare.split(separator: SCRAMSyntax.comma).last.map { Array($0.dropFirst(2)) } ?? []
        guard SCRAMSyntax.isValidNonce(nonce), nonce.count > clientNonce.count, nonce.starts(with: clientNonce) else {
            throw fail(.malformedChallenge("server nonce does not extend the client nonce"))
        }
        guard let salt = Base64.decode(bytes: Array(attributes[1].value)), !salt.isEmpty else {
            throw fail(.malformedChallenge("invalid salt"))
        }
        guard let iterations = SCRAMSyntax.positiveNumber(attributes[2].value, maximum: SCRAM.maximumIterations) else {
            throw fail(.malformedChallenge("invalid or excessive iteration count"))
        }
        let withoutProof = Array("c=".utf8) + Base64.encodeBytes(Self.gs2Header) + Array(",r=".utf8) + nonce
        let authMessage = clientFirstBare + [SCRAMSyntax.comma] + message + [SCRAMSyntax.comma] + withoutProof
        let salted = SCRAM.saltedPassword(SCRAM.normalizedPassword(password), salt: salt, iterations: iterations)
        let clientKey = SCRAM.hmac(key: salted, Array("Client Key".utf8))
        let clientSignature = SCRAM.hmac(key: SCRAM.sha256(clientKey), authMessage)
        let proof = SCRAM.xor(clientKey, clientSignature)
        let serverKey = SCRAM.hmac(key: salted, Array("Server Key".utf8))
        state = .sentClientFinal(expectedServerSignature: SCRAM.hmac(key: serverKey, authMessage))
        return withoutProof + Array(",p=".utf8) + Base64.encodeBytes(proof)
    }

    private mutating func handleServerFinal(_ message: [UInt8], expectedServerSignature: [UInt8]) throws {
        // server-final-message = (server-error / verifier) ["," extensions]
        guard let attributes = SCRAMSyntax.attributes(message[...]), let first = attributes.first else {
            throw fail(.malformedChallenge("invalid server-final-message"))
        }
        if first.key == UInt8(ascii: "e") {
            // The error value is a fixed token (RFC 5802 §7 server-error-value), safe to report.
            let value = String(decoding: first.value.prefix(64), as: UTF8.self)
            throw fail(SASLClientError(code: .serverError, reason: "server-final error \(value)"))
        }
        guard first.key == UInt8(ascii: "v"), let signature = Base64.decode(bytes: Array(first.value)) else {
            throw fail(.malformedChallenge("server-final-message lacks v="))
        }
        guard ConstantTime.equals(signature, expectedServerSignature) else {
            throw fail(SASLClientError(code: .serverNotAuthenticated, reason: "server signature mismatch"))
        }
    }

    private mutating func fail(_ error: SASLClientError) -> SASLClientError {
        state = .failed
        return error
    }
}
