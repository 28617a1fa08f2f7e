import ArgumentParser
import Fetch
import FileIO
import Foundation
import Logging
import Mailbox

/// `postoffice fetch`: download mail to this device (DESIGN.md, "Contracts").
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download mail from POP3 servers to local storage; delete it on the server only once it is stored.",
        discussion: """
            Accounts come from flags (--host, --user, ...) or from a TOML file (--config, default \
            ~/.config/postoffice/fetch.toml). Exit codes: 0 success, 77 authentication, 76 TLS, \
            69 network, 74 local write, 75 another run holds the account, 78 configuration, 70 other, \
            143 stopped by SIGTERM/SIGINT before the end (what was stored is safe).
            """
    )

    @Option(name: .long, help: "Accounts in a TOML file ([[account]] tables).")
    var config: String?

    @Option(name: .long, help: "Fetch only this configured account (repeatable).")
    var account: [String] = []

    @Option(name: .long, help: "Server host name.")
    var host: String?

    @Option(name: .long, help: "Server port (default 995 for implicit TLS, 110 otherwise).")
    var port: Int?

    @Option(name: .long, help: "implicit (POP3S), starttls, or none (cleartext, only when asked for by name).")
    var tls: String = "implicit"

    @Option(name: .long, help: "User name on the server.")
    var user: String?

    @Option(name: .customLong("password-file"), help: "A file whose first line is the password.")
    var passwordFile: String?

    @Option(name: .customLong("password-command"), help: "A command printing the password (a password manager).")
    var passwordCommand: String?

    @Option(name: .customLong("password-env"), help: "An environment variable holding the password.")
    var passwordEnv: String?

    @Option(name: .long, help: "auto, user, apop, plain, login, scram-sha-256, xoauth2, oauthbearer.")
    var auth: String = "auto"

    @Option(
        name: .long,
        help: "maildir:DIR, mbox:FILE or mda:'COMMAND' (default: the Maildir `postoffice mail` reads)."
    )
    var to: String?

    @Option(name: .long, help: "The state file of this account (default: under $XDG_STATE_HOME/postoffice).")
    var state: String?

    @Flag(name: .long, help: "Leave messages on the server.")
    var keep = false

    @Option(
        name: .customLong("keep-days"),
        help: "Delete messages on the server N days after they were first downloaded."
    )
    var keepDays: Int?

    @Option(
        name: .customLong("max-size"),
        help: "Messages larger than this many octets are skipped (or see --oversize)."
    )
    var maxSize: Int?

    @Option(name: .long, help: "skip, or headers (download headers only; the body once the limit allows).")
    var oversize: String = "skip"

    @Option(name: .customLong("ca-file"), help: "Trust the CA certificates in this PEM file.")
    var caFile: String?

    @Option(name: .long, help: "Trust exactly the certificate with this SHA-256 fingerprint.")
    var fingerprint: String?

    @Flag(name: .long, help: "Do not verify the server's certificate (dangerous).")
    var insecure = false

    @Option(
        name: .customLong("pipeline-window"),
        help: "Commands in flight when the server pipelines, and messages stored per group (default 256)."
    )
    var pipelineWindow: Int?

    @Option(name: .long, help: "Seconds each server reply (and each RETR chunk) may take, e.g. 30 or 2m (default 60).")
    var timeout: String?

    @Option(
        name: .customLong("scram-max-iterations"),
        help: "The most SCRAM-SHA-256 iterations a server may ask for (default 100000; more is refused, exit 77)."
    )
    var scramMaxIterations: Int?

    @Flag(
        name: .customLong("mark-seen"),
        help: "Record everything now on the server as downloaded, without downloading."
    )
    var markSeen = false

    @Option(
        name: .customLong("import-state"),
        help: ArgumentHelp(
            "Import another fetcher's state file: fetchmail, getmail, mpop or Thunderbird (repeatable).",
            discussion: "The program is recognised by the file's contents; KIND:FILE names it (for an empty file)."
        )
    )
    var importState: [String] = []

    @Flag(name: .long, help: "Keep running and poll every --interval.")
    var daemon = false

    @Option(name: .long, help: "Polling interval for --daemon, e.g. 5m (default 5m).")
    var interval: String?

    @Flag(name: .long, help: "Print a JSON summary on standard output.")
    var json = false

    @Flag(
        name: .customLong("install-timer"),
        help: "Write a systemd user service and timer that run this fetch every --interval (default 5m)."
    )
    var installTimer = false

    @Flag(name: .customLong("print"), help: "With --install-timer: print the units instead of writing them.")
    var printUnits = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String?

    func run() async throws {
        if installTimer || printUnits {
            try await FetchTimer.run(self)
            return
        }
        let accounts: [FetchAccount]
        let fileInterval: Double?
        let options: FetchOptions
        do {
            // A one-shot run reports per account on its own (summary lines, errors, --json), so
            // its log stays quiet unless asked; a daemon logs each poll.
            _ = try LoggingSetup.bootstrap(level: logLevel ?? (daemon ? "notice" : "critical"))
            (accounts, fileInterval) = try resolveAccounts()
            options = FetchOptions(markSeen: markSeen, imports: try await imports(), stored: Self.updateOfflineMailbox)
        } catch {
            Console.printError("\(error)")
            throw ExitCode(78)
        }
        let logger = Logger(label: "fetch")
        if daemon {
            let seconds = try interval.map(parseInterval) ?? fileInterval ?? 300
            try await runDaemon(accounts: accounts, interval: seconds, options: options, logger: logger)
            return
        }
        let report = try await fetchOnce(accounts: accounts, options: options, logger: logger)
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        // Stopped by SIGTERM/SIGINT after the message in flight: what was stored is safe, but
        // scripts must be able to tell the run did not finish (128 + SIGTERM, as a shell says).
        if report.accounts.contains(where: \.interrupted) { throw ExitCode(143) }
    }

    /// Keeps the offline mailbox current as mail arrives: the SHA-256 manifest that
    /// `postoffice mail verify` checks, and the search index, updated once per group of stored
    /// messages (one manifest append, one index transaction). Both can be rebuilt, so a failure
    /// here is logged and the messages stay stored.
    @Sendable static func updateOfflineMailbox(_ messages: [StoredMessage]) {
        var byMaildir: [String: [(fileName: String, sha256: [UInt8]?)]] = [:]
        for message in messages {
            let path = message.location
            guard let slash = path.range(of: "/", options: .backwards) else { continue }
            let folder = String(path[..<slash.lowerBound])
            // mbox and MDA locations are not Maildir files.
            guard folder.hasSuffix("/new") || folder.hasSuffix("/cur") else { continue }
            byMaildir[String(folder.dropLast(4)), default: []].append(
                (String(path[slash.upperBound...]), message.sha256)
            )
        }
        for (maildir, files) in byMaildir {
            do {
                try recordInManifest(
                    maildir: maildir,
                    entries: files.compactMap { file in file.sha256.map { (file.fileName, $0) } }
                )
                try indexMessages(maildir: maildir, fileNames: files.map(\.fileName))
            } catch {
                Logger(label: "fetch").warning(
                    "could not update the offline index or manifest (postoffice mail reindex repairs it): \(error)"
                )
            }
        }
    }

    private func parseInterval(_ text: String) throws -> Double {
        guard let value = parseDuration(text), value >= 1 else {
            throw ValidationError("--interval '\(text)' is not a duration of at least 1 second (e.g. 90s, 5m, 1h)")
        }
        return value
    }

    /// One pass over every account, concurrently (each account has its own lock and state).
    private func fetchOnce(accounts: [FetchAccount], options: FetchOptions, logger: Logger) async throws -> FetchReport
    {
        let display = ProgressDisplay(accounts: accounts.map(\.name), enabled: !json && Console.standardErrorIsTerminal)
        var options = options
        options.progress = { display.handle($0) }
        let stop = options.stop
        let runOptions = options
        // SIGTERM/SIGINT: finish the message in flight, delete only what is stored, stop.
        let reports = try await Signals.runToCompletion(logger: logger, onShutdown: { stop.requestStop() }) {
            await withTaskGroup(of: (Int, FetchReport).self) { group in
                for (index, account) in accounts.enumerated() {
                    group.addTask { (index, await runFetch(accounts: [account], options: runOptions, logger: logger)) }
                }
                var collected: [(Int, FetchReport)] = []
                for await result in group { collected.append(result) }
                return collected.sorted { $0.0 < $1.0 }.flatMap(\.1.accounts)
            }
        }
        display.finish()
        let report = FetchReport(accounts: reports)
        Self.output(report, json: json, accounts: accounts)
        if !json { Self.printLocations(of: accounts) }
        return report
    }

    private func runDaemon(accounts: [FetchAccount], interval: Double, options: FetchOptions, logger: Logger)
        async throws
    {
        let configPath = config
        let selected = account
        let json = self.json
        let service = FetchService(
            accounts: accounts,
            interval: .milliseconds(Int64(interval * 1000)),
            options: options,
            logger: logger,
            reload: configPath.map { path in
                { @Sendable in try FetchCommand.accounts(fromFile: path, selecting: selected).accounts }
            },
            onReport: { report in FetchCommand.output(report, json: json) }
        )
        // SIGTERM/SIGINT finish the message in flight; SIGHUP re-reads the configuration file.
        let reload: (@Sendable () -> Void)? = configPath == nil ? nil : { @Sendable in service.requestReload() }
        try await Signals.run([service], reload: reload, logger: logger)
    }

    static func output(_ report: FetchReport, json: Bool, accounts: [FetchAccount] = []) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            if let data = try? encoder.encode(report) {
                FileHandle.standardOutput.write(data + Data("\n".utf8))
            }
            return
        }
        for account in report.accounts {
            var line = "\(account.account): \(account.downloaded) downloaded (\(formatBytes(account.bytes)))"
            line += ", \(account.deleted) deleted on the server"
            if account.skipped > 0 { line += ", \(account.skipped) skipped" }
            if account.recovered > 0 { line += ", \(account.recovered) recovered from an interrupted run" }
            if account.markedSeen > 0 { line += ", \(account.markedSeen) marked as seen" }
            if account.interrupted { line += ", interrupted" }
            say(line)
            for warning in account.warnings { Console.printError("\(account.account): warning: \(warning)") }
            let settings = accounts.first { $0.name == account.account }
            for error in account.errors {
                Console.printError("\(account.account): \(FetchAdvice.message(for: error, account: settings))")
            }
        }
    }

    // MARK: - Accounts

    private func resolveAccounts() throws -> ([FetchAccount], Double?) {
        if let host {
            guard config == nil, account.isEmpty else {
                throw ValidationError("give either --host and the account flags, or --config / --account, not both")
            }
            return ([try FetchCommand.engineAccount(flagAccount(host: host))], nil)
        }
        let path = config ?? XDG.defaultFetchConfig
        guard config != nil || FileManager.default.fileExists(atPath: path) else {
            throw ValidationError(
                "nothing to fetch: add an account with `postoffice account add ADDRESS` (it writes \(path)), "
                    + "or give --host, --user and --password-file"
            )
        }
        let (accounts, interval) = try Self.accounts(fromFile: path, selecting: account)
        return (accounts, interval)
    }

    static func accounts(fromFile path: String, selecting names: [String]) throws -> (
        accounts: [FetchAccount], interval: Double?
    ) {
        let file = try FetchFileSettings(path: path)
        var chosen = file.accounts
        if !names.isEmpty {
            for name in names where !chosen.contains(where: { $0.name == name }) {
                throw ValidationError("\(path) has no account named '\(name)'")
            }
            chosen = chosen.filter { names.contains($0.name) }
        }
        guard !chosen.isEmpty else { throw ValidationError("\(path) defines no [[account]]") }
        return (try chosen.map(engineAccount), file.interval)
    }

    private func flagAccount(host: String) throws -> FetchAccountSettings {
        guard let tlsMode = FetchAccountSettings.TLSMode(rawValue: tls) else {
            throw ValidationError("--tls must be implicit, starttls or none, not '\(tls)'")
        }
        guard let user else { throw ValidationError("--user is required with --host") }
        let resolvedPort = port ?? (tlsMode == .implicit ? 995 : 110)
        guard (1...65535).contains(resolvedPort) else {
            throw ValidationError("--port \(resolvedPort) is out of range")
        }
        var settings = FetchAccountSettings(
            name: user + "@" + host,
            host: host,
            port: resolvedPort,
            tls: tlsMode,
            user: user,
            target: try to.map(FetchAccountSettings.Target.init(parsing:)) ?? Self.defaultTarget,
            stateFile: state ?? XDG.defaultState(user: user, host: host, port: resolvedPort)
        )
        let sources: [FetchAccountSettings.PasswordSource] =
            [
                passwordFile.map { .file($0) }, passwordCommand.map { .command($0) },
                passwordEnv.map { .environment($0) },
            ]
            .compactMap { $0 }
        guard sources.count <= 1 else {
            throw ValidationError("give one of --password-file, --password-command, --password-env")
        }
        settings.password = sources.first
        guard FetchAccountSettings.authMethods.contains(auth.lowercased()) else {
            throw ValidationError("--auth must be one of \(FetchAccountSettings.authMethods.joined(separator: ", "))")
        }
        settings.auth = auth.lowercased()
        switch (keep, keepDays) {
        case (true, .some): throw ValidationError("--keep and --keep-days exclude each other")
        case (true, nil): settings.retention = .keep
        case (false, .some(let days)):
            guard (0...100_000).contains(days) else { throw ValidationError("--keep-days must be 0–100000") }
            settings.retention = .keepDays(days)
        case (false, nil): break
        }
        settings.maxSize = maxSize
        guard let oversizeMode = FetchAccountSettings.Oversize(rawValue: oversize) else {
            throw ValidationError("--oversize must be skip or headers")
        }
        settings.oversize = oversizeMode
        let trusts: [FetchAccountSettings.Trust] =
            [
                caFile.map { .caFile($0) }, try fingerprint.map { .fingerprint(try parseFingerprint($0)) },
                insecure ? .insecure : nil,
            ]
            .compactMap { $0 }
        guard trusts.count <= 1 else { throw ValidationError("give one of --ca-file, --fingerprint, --insecure") }
        settings.trust = trusts.first ?? .system
        if let timeout {
            guard let seconds = parseDuration(timeout), seconds >= 1 else {
                throw ValidationError("--timeout '\(timeout)' is not a duration of at least 1 second")
            }
            settings.timeout = seconds
        }
        if let pipelineWindow {
            guard (1...1000).contains(pipelineWindow) else { throw ValidationError("--pipeline-window must be 1–1000") }
            settings.pipelineWindow = pipelineWindow
        }
        if let scramMaxIterations {
            guard FetchAccount.scramIterationRange.contains(scramMaxIterations) else {
                throw ValidationError("--scram-max-iterations must be \(FetchAccount.scramIterationRangeText)")
            }
            settings.scramMaximumIterations = scramMaxIterations
        }
        return settings
    }

    /// `KIND:FILE`, or a bare `FILE` recognised by its contents (read off the cooperative pool).
    private func imports() async throws -> [StateImport] {
        let arguments = importState
        return try await BlockingIO.run {
            try arguments.map { text in
                do {
                    return try StateImport.resolve(argument: text)
                } catch let failure as FetchFailure {
                    throw ValidationError(failure.message)
                }
            }
        }
    }

    /// The engine's account for the CLI's settings.
    static func engineAccount(_ settings: FetchAccountSettings) throws -> FetchAccount {
        let security: FetchAccount.Security =
            switch settings.tls {
            case .implicit: .implicitTLS
            case .starttls: .startTLS
            case .none: .plaintext
            }
        let trust: FetchAccount.Trust =
            switch settings.trust {
            case .system: .system
            case .caFile(let path): .caFile(path)
            case .fingerprint(let bytes): .fingerprint(bytes)
            case .insecure: .insecure
            }
        let mechanism: FetchAccount.AuthMechanism =
            switch settings.auth {
            case "user": .userPass
            case "apop": .apop
            case "plain": .plain
            case "login": .login
            case "scram-sha-256": .scramSHA256
            case "xoauth2": .xoauth2
            case "oauthbearer": .oauthBearer
            default: .automatic
            }
        var password: PasswordSource =
            switch settings.password {
            case .file(let path)?: .file(path)
            case .command(let command)?: .command(command)
            case .environment(let name)?: .environment(name)
            case nil: .none
            }
        if mechanism == .xoauth2 || mechanism == .oauthBearer {
            guard
                let tokenCommand = settings.tokenCommand
                    ?? {
                        guard case .command(let c)? = settings.password else { return nil }
                        return c
                    }()
            else {
                throw ValidationError(
                    "\(settings.name): \(settings.auth) needs token_command (or password_command) printing the access token"
                )
            }
            password = .command(tokenCommand)
        }
        guard password != .none else {
            throw ValidationError(
                "\(settings.name): no password source: give --password-file, --password-command or --password-env"
            )
        }
        let deletion: DeletePolicy =
            switch settings.retention {
            case .deleteAfterDownload:
                settings.deleteWhenDeletedLocally ? .deleteWhenDeletedLocally : .deleteAfterDownload
            case .keep: settings.deleteWhenDeletedLocally ? .deleteWhenDeletedLocally : .keep
            case .keepDays(let days): .keepDays(days)
            }
        let sizeLimit: SizeLimitPolicy =
            switch (settings.maxSize, settings.oversize) {
            case (nil, _): .unlimited
            case (let size?, .skip): .skip(maximumSize: size)
            case (let size?, .headers): .headersOnly(maximumSize: size)
            }
        let target: DeliveryTarget =
            switch settings.target {
            case .maildir(let path): .maildir(path: path)
            case .mbox(let path): .mbox(path: path)
            case .mda(let command): .mda(command: command)
            }
        return FetchAccount(
            name: settings.name,
            host: settings.host,
            port: settings.port,
            security: security,
            trust: trust,
            user: settings.user,
            password: password,
            authMechanism: mechanism,
            policy: FetchPolicy(deletion: deletion, sizeLimit: sizeLimit),
            target: target,
            statePath: settings.stateFile,
            pipelineWindow: settings.pipelineWindow,
            timeout: .milliseconds(Int64(settings.timeout * 1000)),
            scramMaximumIterations: settings.scramMaximumIterations
        )
    }
}

func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1000 && unit < units.count - 1 {
        value /= 1000
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}
