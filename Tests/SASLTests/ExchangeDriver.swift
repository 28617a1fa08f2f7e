import SASL
import Testing

/// Drives a client mechanism against a server mechanism, answering the server's look-ups from
/// an in-memory account table, as the POP3 server would.
struct ExchangeDriver {
    var passwords: [String: String] = [:]
    var scramCredentials: [String: SCRAMCredentials] = [:]

    /// Messages seen on the wire, for tests that check the transcript.
    private(set) var clientMessages: [[UInt8]] = []
    private(set) var serverChallenges: [[UInt8]] = []

    mutating func run(
        client: inout some SASLClientMechanism,
        server: inout some SASLServerMechanism
    ) throws -> SASLServerAction {
        let initial = try client.initialResponse()
        if let initial { clientMessages.append(initial) }
        var action = server.start(initialResponse: initial)
        // Every mechanism finishes in a handful of steps; the bound keeps a bug from looping.
        for _ in 0..<16 {
            switch action {
            case .challenge(let challenge):
                serverChallenges.append(challenge)
                let response = try client.respond(to: challenge)
                clientMessages.append(response)
                action = server.received(response: response)
            case .verifyPassword(let user, _, let password):
                let ok = passwords[user].map { Array($0.utf8) == password } ?? false
                action = server.passwordVerified(ok)
            case .lookUpSCRAMCredentials(let user):
                action = server.credentialsLookedUp(scramCredentials[user])
            case .success, .failure:
                return action
            }
        }
        Issue.record("exchange did not finish")
        return action
    }
}
