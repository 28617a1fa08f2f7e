// The single entry point the command line calls.
public import Logging

/// Fetches every account once, one after the other, and reports what happened.
///
/// Never throws: each account's failure is in its `AccountReport` (`FetchReport.exitCode` maps
/// the first to an exit code). A stop request (`options.stop`) ends the run after the message in
/// flight; accounts not started are not reported.
public func runFetch(accounts: [FetchAccount], options: FetchOptions = FetchOptions(), logger: Logger) async
    -> FetchReport
{
    var reports: [AccountReport] = []
    for account in accounts {
        if options.stop.isStopRequested { break }
        let connector = options.connector?(account) ?? POP3MailSourceConnector(account: account, logger: logger)
        let executor = FetchExecutor(account: account, options: options, logger: logger)
        do {
            reports.append(try await executor.run(connector: connector))
        } catch {
            // Only an in-process injected fault gets here: report it like a crash would look.
            var report = AccountReport(account: account.name)
            report.errors.append(FetchFailure(kind: .other, message: "stopped by an injected fault: \(error)"))
            reports.append(report)
        }
        options.progress?(.finished(account: account.name))
    }
    return FetchReport(accounts: reports)
}
