// The engine's POP3 connector for callers outside the module (`postoffice account test`).
public import Logging

/// The connector ``runFetch(accounts:options:logger:)`` uses by default: a POP3 session with the
/// account's server, security, trust and password source. Its errors are `FetchFailure`s.
public func makePOP3Connector(account: FetchAccount, logger: Logger) -> any MailSourceConnector {
    POP3MailSourceConnector(account: account, logger: logger)
}
