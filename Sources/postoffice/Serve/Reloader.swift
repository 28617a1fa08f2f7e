// SIGHUP for `serve`: the configuration, the passwd-file, the certificate and key read again.
import Accounts
import FileIO
import Logging
import MailStore
import NIOConcurrencyHelpers
import POP3Server
import SASL
import ServerMetrics

/// The account database the listeners ask; a reload swaps the passwd-file behind it (accounts
/// in PostgreSQL stay: every lookup reads the table).
final class ReloadableAccounts: AccountProvider {
    private let current: NIOLockedValueBox<any AccountProvider>

    init(_ accounts: any AccountProvider) {
        current = NIOLockedValueBox(accounts)
    }

    var accounts: any AccountProvider { current.withLockedValue { $0 } }

    func replace(with accounts: any AccountProvider) {
        current.withLockedValue { $0 = accounts }
    }

    func verifyPassword(user: String, password: [UInt8]) async -> AuthenticationResult {
        await accounts.verifyPassword(user: user, password: password)
    }

    func scramCredentials(user: String) async -> SCRAMCredentials? {
        await accounts.scramCredentials(user: user)
    }

    func apopSecret(user: String) async -> [UInt8]? {
        await accounts.apopSecret(user: user)
    }

    func accountExists(user: String) async -> Bool {
        await accounts.accountExists(user: user)
    }

    func lookUpAccount(user: String) async -> AccountLookup {
        await accounts.lookUpAccount(user: user)
    }

    func settings(user: String) async -> AccountSettings {
        await accounts.settings(user: user)
    }

    var settingsInUse: AccountSettingsInUse { accounts.settingsInUse }
}

/// Applies a SIGHUP: the options and config file resolved again, a fresh read of the
/// passwd-file, and the server's certificate, key and policy for new sessions. Open sessions
/// go on untouched. What needs a restart (listeners, the store, the metrics and admin
/// sockets, the user) is logged as such.
actor Reloader {
    let options: ServeOptions
    let canBindPrivilegedPorts: Bool
    let started: ServerSettings
    let server: POP3Server
    let accounts: ReloadableAccounts
    let store: any MailStore
    let metrics: ServerMetrics
    let loginHistory: LoginHistory
    let logger: Logger

    init(
        options: ServeOptions,
        canBindPrivilegedPorts: Bool,
        started: ServerSettings,
        server: POP3Server,
        accounts: ReloadableAccounts,
        store: any MailStore,
        metrics: ServerMetrics,
        loginHistory: LoginHistory,
        logger: Logger
    ) {
        self.options = options
        self.canBindPrivilegedPorts = canBindPrivilegedPorts
        self.started = started
        self.server = server
        self.accounts = accounts
        self.store = store
        self.metrics = metrics
        self.loginHistory = loginHistory
        self.logger = logger
    }

    func reload() async {
        logger.notice("SIGHUP: reloading the configuration, the passwd-file and the certificate")
        do {
            let options = self.options
            let canBind = self.canBindPrivilegedPorts
            let settings = try await BlockingIO.run { try options.resolve(canBindPrivilegedPorts: canBind) }
            try ServeCommand.checkSecretFiles(settings: settings, identity: nil)
            let tls = try await BlockingIO.run { [logger] in
                try ServeCommand.tlsFiles(settings: settings, logger: logger)
            }
            // A passwd-file is read afresh; accounts in PostgreSQL (or a change between the
            // two, which needs a restart) keep the provider the server started with.
            var passwd: PasswdFileAccounts?
            if settings.site.accountsURL == nil, started.site.accountsURL == nil {
                // Read now, so its problems are logged (by the provider) before it serves.
                let file = ServeCommand.passwdFileAccounts(path: settings.site.passwdFile)
                _ = await file.problems()
                passwd = file
            }
            var configuration = ServeCommand.makePOP3Configuration(
                settings: settings,
                tls: tls,
                accounts: accounts,
                store: store,
                metrics: metrics,
                loginHistory: loginHistory
            )
            if started.usesDefaultListeners && settings.usesDefaultListeners {
                // The embedded default may have fallen back to other ports: those stay.
                configuration.listeners = server.configuration.listeners
            }
            let server = self.server
            let reloaded = configuration
            try await BlockingIO.run { try server.reload(reloaded) }
            if let passwd { accounts.replace(with: passwd) }
            for change in Self.changesNeedingRestart(from: started, to: settings) {
                logger.notice("\(change) changed: that takes effect at the next restart")
            }
            logger.notice(
                "reloaded: new sessions use \(tls.certificatePath) and \(Backends.accountsDescription(started.site))"
            )
        } catch {
            logger.error("reload failed, keeping the previous configuration: \(error)")
        }
    }

    static func changesNeedingRestart(from old: ServerSettings, to new: ServerSettings) -> [String] {
        var changes: [String] = []
        if old.site.dataDirectory != new.site.dataDirectory { changes.append("data_dir") }
        if old.site.maildirTemplate != new.site.maildirTemplate { changes.append("maildir") }
        if old.site.storeURL != new.site.storeURL { changes.append("store") }
        if old.site.accountsURL != new.site.accountsURL { changes.append("accounts") }
        if old.lmtp != new.lmtp { changes.append("lmtp") }
        if old.metrics != new.metrics { changes.append("metrics") }
        if old.adminSocket != new.adminSocket { changes.append("admin_socket") }
        if old.runAs != new.runAs { changes.append("run_as") }
        if old.logLevel != new.logLevel { changes.append("log_level") }
        if old.takeoverAfter != new.takeoverAfter { changes.append("takeover_after") }
        return changes
    }
}
