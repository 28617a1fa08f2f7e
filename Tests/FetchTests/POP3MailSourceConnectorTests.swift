import POP3Client
import Testing

@testable import Fetch

@Suite("POP3 connector")
struct POP3MailSourceConnectorTests {
    @Test(
        "the account's timeout reaches the client; connecting and TLS wait at most 30 s",
        arguments: [
            (Duration.seconds(2), Duration.seconds(2), Duration.seconds(2)),
            (.seconds(120), .seconds(120), .seconds(30)),
        ]
    )
    func timeouts(timeout: Duration, command: Duration, connect: Duration) throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        var account = makeAccount(directory)
        account.timeout = timeout
        let configuration = POP3MailSourceConnector(account: account, logger: testLogger).configuration
        #expect(configuration.commandTimeout == command)
        #expect(configuration.connectTimeout == connect)
        #expect(configuration.tlsHandshakeTimeout == connect)
        #expect(configuration.pipelineWindow == account.pipelineWindow)
    }

    @Test("an account's default timeout is the client's default")
    func defaultTimeout() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let account = makeAccount(directory)
        let configuration = POP3MailSourceConnector(account: account, logger: testLogger).configuration
        let defaults = POP3ClientConfiguration(host: "h", port: 110, security: .plaintext)
        #expect(configuration.commandTimeout == defaults.commandTimeout)
        #expect(configuration.connectTimeout == defaults.connectTimeout)
    }
}
