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
/// The server chooses the iteration count (RFC 5802 §5.1 `i`), and every iteration is a
/// PBKDF2 round the client computes: a hostile server could make it spin for minutes. A count
/// above ``maximumIterations`` (``defaultMaximumIterations`` unless configured) ends the
/// exchange with ``SASLClientError/Code/excessiveIterationCount``.
///
/// - SeeAlso: [RFC 5802 §5](https://datatracker.ietf.org/doc/html/rfc5802#section-5)
import MailCore

public struct SCRAMSHA256ClientMechanism: SASLClientMechanism {
    private enum State: Hashable, Sendable {
        case initial
        case sentClientFirst(bare: [UInt8], answeredEmptyChallenge: Bool)
        case sentClientFinal(expectedServerSignature: [UInt8])
        case verified
        case failed
    }

    private static let gs2Header: [UInt8] = Array("n,,".utf8)

    /// The most iterations accepted from a server unless configured otherwise: 100,000 is 25
    /// times the 4096 of RFC 7677 §3 and Dovecot, and costs well under a second here.
    public static let defaultMaximumIterations = 100_000

    private let user: String
    private let password: String
    private let makeNonce: @Sendable () -> String
    /// The most iterations this exchange computes (at most `SCRAM.maximumIterations`).
    public let maximumIterations: Int
    private var state: State = .initial

    public var name: SASLMechanismName { .scramSHA256 }

    /// Creates a mechanism for one exchange. `maximumIterations` is clamped to
    /// 1...`SCRAM.maximumIterations`.
    public init(user: String, password: String, maximumIterations: Int = defaultMaximumIterations) {
        self.init(
            user: user,
            password: password,
            maximumIterations: maximumIterations,
            nonceGenerator: SCRAM.randomNonce
        )
    }

    /// For tests: a fixed client nonce (RFC 7677 §3 test vector).
    init(
        user: String,
        password: String,
        maximumIterations: Int = defaultMaximumIterations,
        nonceGenerator: @escaping @Sendable () -> String
    ) {
        self.user = user
        self.password = password
        self.maximumIterations = min(max(maximumIterations, 1), SCRAM.maximumIterations)
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
        let iterations = try iterationCount(attributes[2].value)
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

    /// RFC 5802 §5.1: `i=` is a positive number. A well-formed count above our maximum is
    /// refused as too much work, not as a malformed message: it is the server's choice.
    private mutating func iterationCount(_ value: ArraySlice<UInt8>) throws -> Int {
        if let iterations = SCRAMSyntax.positiveNumber(value, maximum: maximumIterations) {
            return iterations
        }
        let isNumber =
            value.first.map { (UInt8(ascii: "1")...UInt8(ascii: "9")).contains($0) } == true
            && value.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        guard isNumber else { throw fail(.malformedChallenge("invalid iteration count")) }
        // The count itself is safe to report (at most 20 digits are shown).
        let shown = value.count > 20 ? "more than 10^20" : String(decoding: value, as: UTF8.self)
        throw fail(.excessiveIterationCount(requested: shown, maximum: maximumIterations))
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
