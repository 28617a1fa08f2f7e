// Temporary: the SASL module's client mechanisms are not merged yet; PLAIN inline (RFC 4616).
// TODO: replace with SASL.makeSASLClientMechanism once the auth branch lands.

import SASL

struct InlinePlainMechanism: SASLClientMechanism {
    let name = SASLMechanismName.plain
    let user: String
    let password: String
    func initialResponse() throws -> [UInt8]? { [0] + Array(self.user.utf8) + [0] + Array(self.password.utf8) }
    func respond(to challenge: [UInt8]) throws -> [UInt8] { throw InlineMechanismError() }
    func verifyCompletion() throws {}
}

struct InlineMechanismError: Error {}

func makeClientMechanism(_ name: SASLMechanismName, user: String, secret: String) -> (any SASLClientMechanism)? {
    name == .plain ? InlinePlainMechanism(user: user, password: secret) : nil
}
