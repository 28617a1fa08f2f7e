import ArgumentParser
import Discovery
import Fetch
import Foundation

/// `postoffice account add ADDRESS`: finds the POP3 server for an address as mail clients do,
/// checks its certificate, logs in once, and writes the account into fetch.toml.
struct AccountAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Find the POP3 server for an e-mail address, log in once, and save the account for fetch.",
        discussion: """
            The server is found from the address: DNS SRV records (RFC 6186: _pop3s._tcp, then \
            _pop3._tcp), then the autoconfig file Thunderbird reads \
            (https://autoconfig.DOMAIN/mail/config-v1.1.xml, then \
            https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml), then pop.DOMAIN and \
            mail.DOMAIN. Implicit TLS is preferred, then STLS; a server without TLS is used only \
            with --tls none. A certificate that does not verify is shown with its SHA-256 \
            fingerprint, and can be pinned. The password is asked without echo and kept where you \
            choose (a file only you can read, secret-tool, pass, or your own command); fetch.toml \
            only names the place. With --yes nothing is asked (give --password-file or \
            --password-command). Exit codes as for fetch: 77 authentication, 76 TLS or certificate, \
            69 network or no server found, 78 configuration.
            """
    )

    @Argument(help: "The e-mail address, e.g. alice@example.org.")
    var address: String

    @OptionGroup var config: AccountConfigOption

    @Option(help: "The account's name in fetch.toml (default: the address).")
    var name: String?

    @Option(help: "The user name on the server (default: what the provider's autoconfig says, else the address).")
    var user: String?

    @Option(help: "The server's host name: skips the search.")
    var host: String?

    @Option(help: "The server's port (default 995 for implicit TLS, 110 for STLS).")
    var port: Int?

    @Option(help: "implicit, starttls, or none (cleartext: only when you mean it). Default: the most secure found.")
    var tls: String?

    @Option(name: .customLong("password-file"), help: "A file whose first line is the password (kept there).")
    var passwordFile: String?

    @Option(name: .customLong("password-command"), help: "A command that prints the password, e.g. 'pass show mail'.")
    var passwordCommand: String?

    @Flag(
        name: .customLong("password-stdin"),
        help: "Read the password from standard input and keep it in a file only you can read."
    )
    var passwordStdin = false

    @Flag(help: "Leave messages on the server after downloading them.")
    var keep = false

    @Option(name: .customLong("keep-days"), help: "Delete messages on the server N days after downloading them.")
    var keepDays: Int?

    @Option(help: "maildir:DIR or mbox:FILE (default: the Maildir `postoffice mail` reads).")
    var to: String?

    @Option(help: "Ask this DNS server (HOST:PORT) instead of the system's (/etc/resolv.conf).")
    var resolver: String?

    @Option(name: .customLong("ca-file"), help: "Trust the CA certificates in this PEM file (also for autoconfig).")
    var caFile: String?

    @Option(help: "Trust exactly the server certificate with this SHA-256 fingerprint (pin it).")
    var fingerprint: String?

    @Flag(help: "Ask nothing: take the choices from the flags and the defaults.")
    var yes = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String?

    func run() async throws {
        try await AccountFailure.exiting {
            _ = try LoggingSetup.bootstrap(level: logLevel ?? "critical")
            try await AccountSetup(options: self).run()
        }
    }
}
