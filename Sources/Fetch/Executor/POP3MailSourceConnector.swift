// Sessions over POP3Client. Until the client library lands, connecting reports it is missing.
import Logging

/// Opens POP3 sessions for an account with `POP3Connection`.
struct POP3MailSourceConnector: MailSourceConnector {
    let account: FetchAccount
    let logger: Logger

    func withSource<R: Sendable>(_ body: (any MailSource) async throws -> R) async throws -> R {
        // TODO: replaced by the adapter over POP3Connection once the client library is merged.
        throw FetchFailure(kind: .other, message: "the POP3 client is not available in this build")
    }
}
