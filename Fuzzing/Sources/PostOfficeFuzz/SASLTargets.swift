// Targets for the SASL mechanisms (module SASL): the server reading a client's messages and the
// client reading a server's challenges (RFC 4616 PLAIN, LOGIN, RFC 5802/7677 SCRAM-SHA-256,
// RFC 7628 OAUTHBEARER, XOAUTH2). Messages are the input's LF-separated pieces, as raw bytes
// (base64 is POP3Core's and has its own target, pop3-command).

import SASL

enum SASLTargets {
    /// A fixed SCRAM-SHA-256 credential for every user, so exchanges get past the look-up.
    private static let credentials = SCRAMCredentials(
        salt: Array("QSXCR+Q6sek8bf92".utf8),
        iterations: 4096,
        storedKey: Array(repeating: 0x5A, count: 32),
        serverKey: Array(repeating: 0xA5, count: 32)
    )

    /// A server mechanism (chosen by the first byte) driven by the messages that follow. The
    /// exchange must end, in success or failure, within a bounded number of steps.
    static func server(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let control = input.byte()
        let names: [SASLMechanismName] = [.plain, .login, .scramSHA256]
        guard var mechanism = makeSASLServerMechanism(names[Int(control % 3)]) else {
            check(false, "no server mechanism for a supported name")
            return
        }
        var messages = lines(input.rest())[...]
        var action = mechanism.start(initialResponse: control & 0x04 != 0 ? messages.popFirst() : nil)
        for step in 0... {
            check(step <= messages.count + 8, "the exchange did not end")
            switch action {
            case .challenge:
                guard let next = messages.popFirst() else { return }
                action = mechanism.received(response: next)
            case .verifyPassword(let authenticationID, _, _):
                check(!authenticationID.isEmpty, "a password check for an empty user")
                action = mechanism.passwordVerified(control & 0x08 != 0)
            case .lookUpSCRAMCredentials(let user):
                check(!user.isEmpty, "a credential look-up for an empty user")
                action = mechanism.credentialsLookedUp(control & 0x10 != 0 ? credentials : nil)
            case .success(let user):
                check(!user.isEmpty, "success for an empty user")
                return
            case .failure:
                return
            }
        }
    }

    /// A client mechanism (chosen by the first byte) for the user and password on the first two
    /// lines, answering the challenges on the lines after. SCRAM server-first messages get the
    /// client's nonce spliced in after their first `r=`, so the fuzzer reaches the later checks.
    static func client(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let control = input.byte()
        var parts = lines(input.rest())[...]
        let user = String(decoding: parts.popFirst() ?? [], as: UTF8.self)
        let secret = String(decoding: parts.popFirst() ?? [], as: UTF8.self)
        let names: [SASLMechanismName] = [.plain, .login, .scramSHA256, .xoauth2, .oauthBearer]
        // A low iteration cap keeps each run fast; the cap itself is what a hostile server meets.
        guard
            var mechanism = makeSASLClientMechanism(
                names[Int(control % 5)],
                user: user,
                secret: secret,
                scramMaximumIterations: 64
            )
        else {
            check(false, "no client mechanism for a supported name")
            return
        }
        var clientNonce: [UInt8] = []
        do {
            if let first = try mechanism.initialResponse() {
                clientNonce = nonce(in: first)
            }
            for challenge in parts {
                var challenge = challenge
                if !clientNonce.isEmpty, let r = challenge.firstRange(of: Array("r=".utf8)) {
                    challenge.insert(contentsOf: clientNonce, at: r.upperBound)
                }
                let response = try mechanism.respond(to: challenge)
                if clientNonce.isEmpty { clientNonce = nonce(in: response) }
            }
            try mechanism.verifyCompletion()
        } catch {
            return
        }
    }

    /// The value of the `r=` attribute of a SCRAM client-first message, or nothing.
    private static func nonce(in message: [UInt8]) -> [UInt8] {
        guard let r = message.firstRange(of: Array(",r=".utf8)) else { return [] }
        return Array(message[r.upperBound...].prefix { $0 != UInt8(ascii: ",") })
    }
}

extension Array where Element == UInt8 {
    /// The first occurrence of `pattern`.
    fileprivate func firstRange(of pattern: [UInt8]) -> Range<Int>? {
        guard !pattern.isEmpty, pattern.count <= count else { return nil }
        for start in 0...(count - pattern.count) where self[start..<(start + pattern.count)].elementsEqual(pattern) {
            return start..<(start + pattern.count)
        }
        return nil
    }
}
