// Runs one account: lock, state, imports, session (plan, store, record, only then DELE), QUIT.
import FileIO
import Logging

/// Performs one account's run: takes the account's lock, opens its state, imports other
/// programs' state, then runs a `FetchSession` over a session from the connector.
struct FetchExecutor {
    let account: FetchAccount
    let options: FetchOptions
    let logger: Logger

    /// Runs the account with sessions from `connector`; never throws (failures are in the report)
    /// except for `InjectedFault`, which simulates a crash and propagates untouched.
    func run(connector: any MailSourceConnector) async throws -> AccountReport {
        var report = AccountReport(account: account.name)
        do {
            let account = self.account
            let (lock, store) = try await BlockingIO.run {
                try makeDirectories(directory(of: account.statePath))
                let lock = try AccountLock(path: account.statePath + ".lock")
                return (lock, try FetchStateStore(path: account.statePath, account: account.identity))
            }
            defer { lock.release() }
            let worker = StoreWorker(account: account, options: options, store: store)
            for item in options.imports {
                let imported = try await worker.importState(item, now: options.clock.now())
                report.markedSeen += imported
                logger.info("imported state", metadata: ["account": "\(account.name)", "new": "\(imported)"])
            }
            var session = FetchSession(
                account: account,
                options: options,
                worker: worker,
                capabilities: try await worker.capabilities(),
                report: report
            )
            report = try await connector.withSource { source in
                try await session.run(source)
                return session.report
            }
        } catch let fault as InjectedFault {
            throw fault
        } catch let failure as FetchFailure {
            report.errors.append(failure)
        } catch {
            report.errors.append(FetchFailure(kind: .other, message: "\(error)"))
        }
        log(report)
        return report
    }

    private func log(_ report: AccountReport) {
        let name: Logger.MetadataValue = "\(account.name)"
        for warning in report.warnings {
            logger.warning("\(warning)", metadata: ["account": name])
        }
        for failure in report.errors {
            logger.error("fetch failed", metadata: ["account": name, "error": "\(failure)"])
        }
        guard report.errors.isEmpty else { return }
        logger.info(
            "fetched",
            metadata: [
                "account": name, "downloaded": "\(report.downloaded)", "deleted": "\(report.deleted)",
                "skipped": "\(report.skipped)", "recovered": "\(report.recovered)",
            ]
        )
    }
}
