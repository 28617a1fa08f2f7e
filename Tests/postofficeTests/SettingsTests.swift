import Accounts
import ArgumentParser
import Foundation
import POP3Server
import ProxyProtocol
import Testing

@testable import postoffice

@Suite("serve and fetch settings")
struct SettingsTests {
    func temporaryFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "postoffice-test-\(UUID().uuidString).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(
        "listen addresses",
        arguments: [
            ("127.0.0.1:110", "127.0.0.1", 110),
            ("[::1]:995", "::1", 995),
            ("*:110", "0.0.0.0", 110),
            ("localhost:0", "localhost", 0),
        ]
    )
    func listenAddresses(text: String, host: String, port: Int) throws {
        let address = try #require(ListenAddress(parsing: text))
        #expect(address.host == host)
        #expect(address.port == port)
    }

    @Test("bad listen addresses", arguments: ["110", "host:", ":110", "::1:110", "[::1]110", "h:70000", "h:-1"])
    func badListenAddresses(text: String) {
        #expect(ListenAddress(parsing: text) == nil)
    }

    @Test("the embedded default needs nothing")
    func embeddedDefault() throws {
        let options = try ServeOptions.parse([])
        let settings = try options.resolve(canBindPrivilegedPorts: false)
        #expect(settings.listen == [ListenAddress(host: "127.0.0.1", port: 1110)])
        #expect(settings.listenTLS == [ListenAddress(host: "127.0.0.1", port: 1995)])
        #expect(settings.usesDefaultListeners)
        #expect(settings.site.passwdFile == "postoffice-data/passwd")
        #expect(settings.site.maildirTemplate == "postoffice-data/mail/%u/Maildir")
        #expect(settings.authFailureDelay == 2)
        #expect(settings.idleTimeout == 600)
        #expect(settings.maxConnections == nil, "the descriptor limit decides")
        #expect(!settings.allowCleartextAuth)
        let privileged = try options.resolve(canBindPrivilegedPorts: true)
        #expect(privileged.listen.map(\.port) == [110])
        #expect(privileged.listenTLS.map(\.port) == [995])
    }

    @Test("flags override the config file, which overrides defaults")
    func precedence() throws {
        let path = try temporaryFile(
            """
            [server]
            maildir = "/srv/mail/%u"
            passwd_file = "/etc/users"
            listen = ["0.0.0.0:110"]
            auth_failure_delay = 3
            idle_timeout = "15m"
            takeover_after = 30
            max_connections = 5000
            """
        )
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try ServeOptions.parse(["--config", path]).resolve(canBindPrivilegedPorts: false)
        #expect(fromFile.site.maildirTemplate == "/srv/mail/%u")
        #expect(fromFile.site.passwdFile == "/etc/users")
        #expect(fromFile.listen == [ListenAddress(host: "0.0.0.0", port: 110)])
        #expect(fromFile.listenTLS.isEmpty)
        #expect(!fromFile.usesDefaultListeners)
        #expect(fromFile.authFailureDelay == 3)
        #expect(fromFile.idleTimeout == 900)
        #expect(fromFile.takeoverAfter == 30)
        #expect(fromFile.maxConnections == 5000)

        let flags = try ServeOptions.parse([
            "--config", path, "--maildir", "/tmp/m/%u/Maildir", "--listen", "127.0.0.1:2110",
            "--listen-tls", "127.0.0.1:2995", "--listen-tls", "[::1]:2995", "--auth-failure-delay", "0",
            "--max-connections", "20",
        ]).resolve(canBindPrivilegedPorts: false)
        #expect(flags.site.maildirTemplate == "/tmp/m/%u/Maildir")
        #expect(flags.site.passwdFile == "/etc/users")
        #expect(flags.listen == [ListenAddress(host: "127.0.0.1", port: 2110)])
        #expect(flags.listenTLS.count == 2)
        #expect(flags.authFailureDelay == 0)
        #expect(flags.maxConnections == 20)
    }

    @Test("expire_days and login_delay: from the file, flags over it")
    func retention() throws {
        let path = try temporaryFile("[server]\nexpire_days = 30\nlogin_delay = 300\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try ServeOptions.parse(["--config", path]).resolve(canBindPrivilegedPorts: false)
        #expect(fromFile.expiry == .days(30))
        #expect(fromFile.loginDelay == 300)
        let flags = try ServeOptions.parse(["--config", path, "--expire-days", "NEVER", "--login-delay", "0"])
            .resolve(canBindPrivilegedPorts: false)
        #expect(flags.expiry == .never)
        #expect(flags.loginDelay == 0)
        let never = try temporaryFile("[server]\nexpire_days = \"never\"\n")
        defer { try? FileManager.default.removeItem(atPath: never) }
        #expect(try ServeOptions.parse(["--config", never]).resolve(canBindPrivilegedPorts: false).expiry == .never)
        let none = try ServeOptions.parse([]).resolve(canBindPrivilegedPorts: false)
        #expect(none.expiry == nil && none.loginDelay == nil)
        #expect(throws: (any Error).self) {
            try ServeOptions.parse(["--expire-days", "thirty"]).resolve(canBindPrivilegedPorts: false)
        }
        let printed = CheckConfigCommand.effectiveSettings(fromFile)
        #expect(printed.contains { $0 == ("expire_days", "30") })
        #expect(printed.contains { $0 == ("login_delay", "300") })
    }

    @Test(
        "bad settings are refused with a reason",
        arguments: [
            ("[server]\nmaildir = \"/srv/mail\"", "no %u"),
            ("[server]\nlisten = [\"nowhere\"]", "not HOST:PORT"),
            ("[server]\ntls_cert = \"c.pem\"", "go together"),
            ("[server]\nauth_failure_delay = -1", "between 0 and 60"),
            ("[server]\nlisen = [\"127.0.0.1:1\"]", "unknown key"),
            ("[sever]\n", "unknown table"),
            ("[server]\nexpire_days = \"soon\"", "NEVER"),
            ("[server]\nexpire_days = -1", "NEVER"),
            ("[server]\nexpire_days = true", "NEVER"),
            ("[server]\nlogin_delay = -5", "login delay"),
            ("[server]\nexpire = 30", "unknown key"),
            ("[server]\nmax_connections = 0", "must be positive"),
            ("[server]\nlisten_proxy = [\"127.0.0.1:1110\"]", "needs --trusted-proxy"),
            ("[server]\ntrusted_proxy = [\"10.0.0.1/8\"]", "CIDR"),
            ("[server]\nmax_connections_per_ip = -1", "0 (none) or positive"),
            ("[server]\nban_after = -2", "0 (no bans)"),
            ("[server]\nban_time = 0", "at least 1 second"),
        ]
    )
    func badSettings(text: String, fragment: String) throws {
        let path = try temporaryFile(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            try ServeOptions.parse(["--config", path]).resolve(canBindPrivilegedPorts: false)
        } throws: { error in
            "\(error)".contains(fragment)
        }
    }

    @Test("PROXY listeners, caps and bans: defaults, the file, then flags")
    func abuseControls() throws {
        let defaults = try ServeOptions.parse([]).resolve(canBindPrivilegedPorts: false)
        #expect(defaults.maxConnectionsPerIP == 50)
        #expect(defaults.banPolicy == BanPolicy(failures: 10, window: 600, banTime: 900))
        #expect(defaults.trustedProxies.isEmpty && defaults.listenProxy.isEmpty)
        #expect(defaults.site.banFile == "postoffice-data/bans")

        let path = try temporaryFile(
            """
            [server]
            listen_proxy = ["10.0.0.5:110"]
            listen_tls_proxy = ["10.0.0.5:995"]
            trusted_proxy = ["10.0.0.2/32", "2001:db8::/64"]
            trusted_network = ["192.0.2.0/24"]
            max_connections_per_ip = 0
            ban_after = 5
            ban_window = "2m"
            ban_time = "1h"
            """
        )
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try ServeOptions.parse(["--config", path]).resolve(canBindPrivilegedPorts: false)
        #expect(fromFile.listen.isEmpty && fromFile.listenTLS.isEmpty, "PROXY listeners alone: no default listeners")
        #expect(!fromFile.usesDefaultListeners)
        #expect(fromFile.listenProxy == [ListenAddress(host: "10.0.0.5", port: 110)])
        #expect(fromFile.listenTLSProxy == [ListenAddress(host: "10.0.0.5", port: 995)])
        #expect(fromFile.trustedProxies == [IPNetwork("10.0.0.2/32")!, IPNetwork("2001:db8::/64")!])
        #expect(fromFile.trustedNetworks == [IPNetwork("192.0.2.0/24")!])
        #expect(fromFile.maxConnectionsPerIP == nil, "0 turns the cap off")
        #expect(fromFile.banPolicy == BanPolicy(failures: 5, window: 120, banTime: 3600))
        let shown = Dictionary(uniqueKeysWithValues: CheckConfigCommand.effectiveSettings(fromFile))
        #expect(shown["listen_proxy"] == "[\"10.0.0.5:110\"]")
        #expect(shown["listen_tls_proxy"] == "[\"10.0.0.5:995\"]")
        #expect(shown["trusted_proxy"] == "[\"10.0.0.2/32\", \"2001:db8::/64\"]")
        #expect(shown["trusted_network"] == "[\"192.0.2.0/24\"]")
        #expect(shown["max_connections_per_ip"] == "0 (no cap)")
        #expect(shown["ban_after"] == "5")
        #expect(shown["ban_window"] == "120.0")
        #expect(shown["ban_time"] == "3600.0")
        #expect(
            Dictionary(uniqueKeysWithValues: CheckConfigCommand.effectiveSettings(defaults))["max_connections_per_ip"]
                == "50"
        )

        let flags = try ServeOptions.parse([
            "--config", path, "--listen-tls-proxy", "127.0.0.1:2995", "--trusted-proxy", "127.0.0.1",
            "--max-connections-per-ip", "7", "--ban-after", "0",
        ]).resolve(canBindPrivilegedPorts: false)
        #expect(flags.listenProxy.isEmpty, "listener flags replace the file's listeners")
        #expect(flags.listenTLSProxy == [ListenAddress(host: "127.0.0.1", port: 2995)])
        #expect(flags.trustedProxies == [IPNetwork("127.0.0.1/32")!])
        #expect(flags.maxConnectionsPerIP == 7)
        #expect(flags.banPolicy == nil, "--ban-after 0 turns bans off")
    }

    @Test("fetch accounts from [[account]] tables")
    func fetchAccounts() throws {
        let path = try temporaryFile(
            """
            [fetch]
            interval = "5m"

            [[account]]
            name = "work"
            host = "pop.example.com"
            user = "alice"
            password_command = "pass show mail/work"
            keep_days = 14
            fingerprint = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
            to = "mbox:/var/mail/alice"

            [[account]]
            name = "home"
            host = "mail.example.org"
            tls = "starttls"
            user = "al"
            password_env = "HOME_MAIL_PASSWORD"
            keep = true
            """
        )
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try FetchFileSettings(path: path)
        #expect(file.interval == 300)
        #expect(file.accounts.count == 2)
        let work = file.accounts[0]
        #expect(work.port == 995)
        #expect(work.tls == .implicit)
        #expect(work.password == .command("pass show mail/work"))
        #expect(work.retention == .keepDays(14))
        #expect(work.target == .mbox("/var/mail/alice"))
        #expect(work.trust == .fingerprint([0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89].repeated(4)))
        let home = file.accounts[1]
        #expect(home.port == 110)
        #expect(home.retention == .keep)
        #expect(home.password == .environment("HOME_MAIL_PASSWORD"))
    }

    @Test("a password in the config file is refused")
    func noPasswordInConfig() throws {
        let path = try temporaryFile("[[account]]\nhost = \"h\"\nuser = \"u\"\npassword = \"secret\"")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try FetchFileSettings(path: path) } throws: { "\($0)".contains("never stored") }
    }

    @Test(
        "fingerprints as openssl prints them",
        arguments: [
            "SHA256 Fingerprint=00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
            "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF",
        ]
    )
    func fingerprints(text: String) throws {
        let bytes = try parseFingerprint(text)
        #expect(bytes.count == 32)
        #expect(bytes[0] == 0x00 && bytes[1] == 0x11 && bytes[15] == 0xFF)
    }

    @Test(
        "not fingerprints",
        arguments: ["", "AB:CD", String(repeating: "０", count: 64), String(repeating: "g", count: 64)]
    )
    func badFingerprints(text: String) {
        #expect(throws: ConfigError.self) { try parseFingerprint(text) }
    }

    @Test(
        "targets",
        arguments: [
            ("maildir:/m", FetchAccountSettings.Target.maildir("/m")), ("mda:procmail -d x", .mda("procmail -d x")),
        ]
    )
    func targets(text: String, expected: FetchAccountSettings.Target) throws {
        #expect(try FetchAccountSettings.Target(parsing: text) == expected)
    }
}

extension Array {
    fileprivate func repeated(_ count: Int) -> [Element] { (0..<count).flatMap { _ in self } }
}
