// Server side of SCRAM-SHA-256 (RFC 5802 §5 with SHA-256, RFC 7677) without channel binding.

/// The server side of SCRAM-SHA-256.
///
///     C: n,,n=user,r=<client nonce>                       (client-first)
///     (caller looks up the account's SCRAMCredentials)
///     S: r=<client nonce><server nonce>,s=<salt>,i=4096   (server-first, a challenge)
///     C: c=biws,r=<nonce>,p=<ClientProof>                 (client-final)
///     S: v=<ServerSignature>                              (server-final, a challenge)
///     C: (empty)
///     S: +OK
///
/// POP3 has no "additional data with success" (RFC 5034 §4), so server-final goes out as a
/// challenge and success follows the client's empty answer. Channel binding (`p=`, the -PLUS
/// variant) is refused; `y` (client could bind, thinks we cannot) is accepted, as we advertise
/// no -PLUS mechanism (RFC 5802 §6). An unknown user gets made-up salt and keys, so the exchange
/// looks the same until the proof fails (RFC 5802 §9 asks servers not to reveal which users exist).
///
/// - SeeAlso: [RFC 5802 §5](https://datatracker.ietf.org/doc/html/rfc5802#section-5),
///   [RFC 7677](https://datatracker.ietf.org/doc/html/rfc7677)
import MailCore

public struct SCRAMSHA256ServerMechanism: SASLServerMechanism {
    private struct ClientFirst: Hashable, Sendable {
        var gs2Header: [UInt8]
        var bare: [UInt8]
        var user: String
        var nonce: [UInt8]
    }

    private struct Pending: Hashable, Sendable {
        var clientFirst: ClientFirst
        var serverFirst: [UInt8]
        var nonce: [UInt8]
        var credentials: SCRAMCredentials
        var isGenuine: Bool
    }

    private enum State: Hashable, Sendable {
        case initial
        case awaitingClientFirst
        case awaitingCredentials(ClientFirst)
        case awaitingClientFinal(Pending)
        case awaitingFinalAcknowledgement(user: String)
        case finished
    }

    private var state: State = .initial
    private let makeNonce: @Sendable () -> String

    public var name: SASLMechanismName { .scramSHA256 }

    /// Creates a mechanism for one exchange.
    public init() {
        self.init(nonceGenerator: SCRAM.randomNonce)
    }

    /// For tests: a fixed server nonce (RFC 7677 §3 test vector).
    init(nonceGenerator: @escaping @Sendable () -> String) {
        self.makeNonce = nonceGenerator
    }

    public mutating func start(initialResponse: [UInt8]?) -> SASLServerAction {
        guard case .initial = state else { return fail(.malformed("exchange already started")) }
        guard let initialResponse else {
            state = .awaitingClientFirst
            return .challenge([])
        }
        return handleClientFirst(initialResponse)
    }

    public mutating func received(response: [UInt8]) -> SASLServerAction {
        switch state {
        case .awaitingClientFirst:
            return handleClientFirst(response)
        case .awaitingClientFinal(let pending):
            return handleClientFinal(response, pending: pending)
        case .awaitingFinalAcknowledgement(let user):
            guard response.isEmpty else { return fail(.malformed("expected an empty response after server-final")) }
            state = .finished
            return .success(user: user)
        case .initial, .awaitingCredentials, .finished:
            return fail(.malformed("unexpected response"))
        }
    }

    public mutating func passwordVerified(_ ok: Bool) -> SASLServerAction {
        fail(.malformed("SCRAM does not verify passwords"))
    }

    public mutating func credentialsLookedUp(_ credentials: SCRAMCredentials?) -> SASLServerAction {
        guard case .awaitingCredentials(let clientFirst) = state else {
            return fail(.malformed("no credential look-up pending"))
        }
        let usable = credentials.flatMap { Self.isUsable($0) ? $0 : nil }
        let effective = usable ?? Self.madeUpCredentials()
        let nonce = clientFirst.nonce + Array(makeNonce().utf8)
        guard SCRAMSyntax.isValidNonce(nonce) else { return fail(.malformed("invalid server nonce")) }
        let serverFirst =
            Array("r=".utf8) + nonce + Array(",s=".utf8) + Base64.encodeBytes(effective.salt)
            + Array(",i=\(effective.iterations)".utf8)
        state = .awaitingClientFinal(
            Pending(
                clientFirst: clientFirst,
                serverFirst: serverFirst,
                nonce: nonce,
                credentials: effective,
                isGenuine: usable != nil
            )
        )
        return .challenge(serverFirst)
    }

    private mutating func handleClientFirst(_ message: [UInt8]) -> SASLServerAction {
        // gs2-header = gs2-cbind-flag "," [ authzid ] ","  (RFC 5802 §7)
        let parts = message.split(separator: SCRAMSyntax.comma, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return fail(.malformed("client-first lacks a GS2 header")) }
        let flag = parts[0]
        if flag.first == UInt8(ascii: "p") {
            return fail(.malformed("channel binding is not supported"))
        }
        guard flag.elementsEqual("n".utf8) || flag.elementsEqual("y".utf8) else {
            return fail(.malformed("invalid GS2 channel-binding flag"))
        }
        var authzid: String?
        if !parts[1].isEmpty {
            guard parts[1].starts(with: "a=".utf8), let name = SCRAMSyntax.decodeSASLName(parts[1].dropFirst(2)) else {
                return fail(.malformed("invalid authzid"))
            }
            authzid = name
        }
        guard let attributes = SCRAMSyntax.attributes(parts[2]), attributes.count >= 2 else {
            return fail(.malformed("invalid client-first-message-bare"))
        }
        // RFC 5802 §5.1 `m`: a mandatory extension we do not know means failure.
        guard attributes[0].key == UInt8(ascii: "n") else {
            return fail(
                .malformed(attributes[0].key == UInt8(ascii: "m") ? "unsupported mandatory extension" : "expected n=")
            )
        }
        guard let user = SCRAMSyntax.decodeSASLName(attributes[0].value) else {
            return fail(.malformed("invalid user name"))
        }
        guard attributes[1].key == UInt8(ascii: "r"), SCRAMSyntax.isValidNonce(attributes[1].value) else {
            return fail(.malformed("invalid client nonce"))
        }
        // No proxy authorization: an authzid must name the authenticating user.
        if let authzid, authzid != user { return fail(.authenticationFailed) }
        let gs2Header = Array(parts[0]) + [SCRAMSyntax.comma] + Array(parts[1]) + [SCRAMSyntax.comma]
        let clientFirst = ClientFirst(
            gs2Header: gs2Header,
            bare: Array(parts[2]),
            user: user,
            nonce: Array(attributes[1].value)
        )
        state = .awaitingCredentials(clientFirst)
        return .lookUpSCRAMCredentials(user: user)
    }

    private mutating func handleClientFinal(_ message: [UInt8], pending: Pending) -> SASLServerAction {
        // client-final-message = channel-binding "," nonce ["," extensions] "," proof  (RFC 5802 §7)
        guard let attributes = SCRAMSyntax.attributes(message[...]), attributes.count >= 3 else {
            return fail(.malformed("invalid client-final-message"))
        }
        guard attributes[0].key == UInt8(ascii: "c"), let binding = Base64.decode(bytes: Array(attributes[0].value))
        else {
            return fail(.malformed("invalid channel binding attribute"))
        }
        // Without channel binding, c= is the base64 of the GS2 header sent in client-first (§5.1 `c`).
        guard binding == pending.clientFirst.gs2Header else {
            return fail(.malformed("channel binding does not match the GS2 header"))
        }
        guard attributes[1].key == UInt8(ascii: "r"), attributes[1].value.elementsEqual(pending.nonce) else {
            return fail(.malformed("nonce mismatch"))
        }
        guard let last = attributes.last, last.key == UInt8(ascii: "p"),
            let proof = Base64.decode(bytes: Array(last.value)), proof.count == 32
        else {
            return fail(.malformed("invalid client proof"))
        }
        // The proof is the last attribute, so what precedes ",p=" is client-final-without-proof.
        let withoutProof = Array(message[..<(last.value.startIndex - 3)])
        let authMessage =
            pending.clientFirst.bare + [SCRAMSyntax.comma] + pending.serverFirst + [SCRAMSyntax.comma] + withoutProof
        let clientSignature = SCRAM.hmac(key: pending.credentials.storedKey, authMessage)
        let clientKey = SCRAM.xor(proof, clientSignature)
        let proofMatches = ConstantTime.equals(SCRAM.sha256(clientKey), pending.credentials.storedKey)
        guard proofMatches, pending.isGenuine else { return fail(.authenticationFailed) }
        let serverSignature = SCRAM.hmac(key: pending.credentials.serverKey, authMessage)
        state = .awaitingFinalAcknowledgement(user: pending.clientFirst.user)
        return .challenge(Array("v=".utf8) + Base64.encodeBytes(serverSignature))
    }

    private static func isUsable(_ credentials: SCRAMCredentials) -> Bool {
        credentials.storedKey.count == 32 && credentials.serverKey.count == 32 && !credentials.salt.isEmpty
            && (1...SCRAM.maximumIterations).contains(credentials.iterations)
    }

    private static func madeUpCredentials() -> SCRAMCredentials {
        SCRAMCredentials(
            salt: SecureRandom.bytes(16),
            iterations: SCRAM.defaultIterations,
            storedKey: SecureRandom.bytes(32),
            serverKey: SecureRandom.bytes(32)
        )
    }

    private mutating func fail(_ failure: SASLServerFailure) -> SASLServerAction {
        state = .finished
        return .failure(failure)
    }
}
