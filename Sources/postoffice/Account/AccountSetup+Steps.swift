// The questions and checks of `account add`, one step each.

import Discovery
import Fetch
import FileIO
import Foundation
import POP3Client

extension AccountSetup {
    /// One line per discovery step, indented under "Looking for…".
    @Sendable static func show(_ event: MailServerDiscovery.Event) {
        switch event {
        case .looking(let what) where !what.hasPrefix("SRV") && !what.hasPrefix("https://"):
            say("  trying \(what)")
        case .looking:
            break
        case .found(let source, let candidates):
            say("  \(source): \(candidates.map(\.description).joined(separator: ", "))")
        case .nothing(let source, let reason):
            say("  \(source): \(reason)")
        case .skipped(let candidate, let reason):
            say("  \(candidate): skipped, \(reason)")
        case .probed(let candidate, let outcome):
            let result: String =
                switch outcome {
                case .verified: "POP3 server, certificate verified"
                case .untrustedCertificate: "POP3 server, certificate not trusted"
                case .noTLS: "POP3 server without STLS"
                case .plaintext: "POP3 server (no TLS, as asked)"
                case .failed(let reason): reason
                }
            say("  \(candidate): \(result)")
        }
    }

    /// RFC 8314 §5.4: during setup, a certificate that does not verify may be pinned, after the
    /// person has seen it. With --yes it is refused with the flags that would accept it.
    func settleCertificate(_ certificate: POP3ServerCertificate, reason: String, host: String) async throws {
        var lines = ["The certificate of \(host) does not verify: \(Self.withoutAdvice(reason))."]
        lines.append("  subject:     \(certificate.subject)")
        lines.append("  issuer:      \(certificate.isSelfSigned ? "itself (self-signed)" : certificate.issuer)")
        if !certificate.names.isEmpty { lines.append("  names:       \(certificate.names.joined(separator: ", "))") }
        lines.append("  fingerprint: \(certificate.fingerprint)")
        for line in lines { say(line) }
        guard interactive else {
            throw AccountFailure(
                .tls,
                "the certificate of \(host) is not trusted (\(Self.withoutAdvice(reason))). If it is your server's "
                    + "certificate, pin it: run again with --fingerprint \(certificate.fingerprint), or trust its CA "
                    + "with --ca-file PEM"
            )
        }
        say("Compare the fingerprint with the one your provider publishes (for your own server:")
        say("  openssl x509 -in CERT.pem -noout -fingerprint -sha256). Pinning trusts this certificate only,")
        say("for this account only; `postoffice account remove` undoes it.")
        guard try await prompter.confirm("Trust this certificate for this account (pin it)?", default: false) else {
            throw AccountFailure(.tls, "the certificate of \(host) was not trusted; nothing was saved")
        }
    }

    /// The client's refusal without its "— use --ca-file or --fingerprint …" tail (shown separately).
    static func withoutAdvice(_ reason: String) -> String {
        guard let dash = reason.range(of: " — use ") else { return reason }
        return String(reason[..<dash.lowerBound])
    }

    /// RFC 8314 §5.1: before credentials cross the network without TLS, say so.
    func acceptCleartext(_ server: ServerCandidate) async throws {
        say("\(server.host) port \(server.port) is used without TLS: the password and the mail cross the network")
        say("unencrypted, readable by anyone on the way. Use this only on a network you trust.")
        guard interactive else { return }
        guard try await prompter.confirm("Send the password without encryption?", default: false) else {
            throw AccountFailure(.tls, "nothing was saved; ask your provider for its settings with TLS")
        }
    }

    /// The password from the flags, or asked; the source is nil when the password still has to
    /// be kept somewhere.
    func initialPassword(user: String, host: String) async throws -> (String, FetchAccountSettings.PasswordSource?) {
        if let path = options.passwordFile.map(Self.absolute) {
            return (try await Self.resolve(.file(path)), .file(path))
        }
        if let command = options.passwordCommand {
            return (try await Self.resolve(.command(command)), .command(command))
        }
        if options.passwordStdin {
            guard let line = try await BlockingIO.run({ Swift.readLine(strippingNewline: true) }), !line.isEmpty else {
                throw AccountFailure(.configuration, "no password on standard input")
            }
            return (line, nil)
        }
        return (try await prompter.secret("Password for \(user) at \(host): "), nil)
    }

    private static func resolve(_ source: Fetch.PasswordSource) async throws -> String {
        do {
            return try await BlockingIO.run { try source.resolve() }
        } catch let failure as FetchFailure {
            throw AccountFailure(.configuration, failure.message)
        }
    }

    /// Logs in; a refused password typed here may be typed again (three tries in all).
    func checkLogin(
        prober: ServerProber,
        server: ServerCandidate,
        user: String,
        password: inout String,
        source: FetchAccountSettings.PasswordSource?
    ) async throws -> (count: Int, size: Int) {
        var attempt = 1
        while true {
            do {
                return try await prober.checkLogin(server, user: user, password: password)
            } catch let error as POP3ClientError where error.kind == .authentication {
                if interactive && source == nil && attempt < 3 {
                    say("The server refused the password (\(error.message)). Try again.")
                    password = try await prompter.secret("Password for \(user) at \(server.host): ")
                    attempt += 1
                    continue
                }
                throw AccountFailure(.authentication, Self.loginAdvice(error, user: user, source: source))
            } catch let error as POP3ClientError {
                throw AccountFailure(Self.kind(of: error), "\(server): \(error.message)")
            } catch let error as DiscoveryError {
                throw AccountFailure(.network, error.message)
            }
        }
    }

    static func kind(of error: POP3ClientError) -> FetchErrorKind {
        switch error.kind {
        case .authentication: .authentication
        case .certificate, .tls, .unsupported: .tls
        default: .network
        }
    }

    /// What to check when the login is refused.
    static func loginAdvice(_ error: POP3ClientError, user: String, source: FetchAccountSettings.PasswordSource?)
        -> String
    {
        let password: String =
            switch source {
            case .file(let path)?: "the password in \(path)"
            case .command(let command)?: "the password `\(command)` prints"
            default: "the password"
            }
        return "\(error.message). Check \(password); if it is right, check the user name \(user) (--user: some "
            + "providers want the whole address, others only the part before the @)"
    }

    /// "3 messages (45.2 KB) wait".
    static func describe(_ waiting: (count: Int, size: Int)) -> String {
        switch waiting.count {
        case 0: "no message waits"
        case 1: "1 message (\(formatBytes(waiting.size))) waits"
        default: "\(waiting.count) messages (\(formatBytes(waiting.size))) wait"
        }
    }

    /// Where a typed password goes: asked, or a private file with --yes / --password-stdin.
    func keepPassword(_ password: String, account name: String) async throws -> FetchAccountSettings.PasswordSource {
        let file = PasswordKeeper.defaultFile(account: name)
        var places: [(PasswordKeeper.Place, String)] = [(.file(file), "in a file only you can read: \(file)")]
        let (secretTool, pass) = try await BlockingIO.run {
            (PasswordKeeper.installed("secret-tool"), PasswordKeeper.installed("pass"))
        }
        if secretTool { places.append((.secretTool, "in the desktop keyring (secret-tool)")) }
        if pass { places.append((.pass, "in pass (postoffice/\(name))")) }
        places.append((.command(""), "nowhere: I give a command that prints it (e.g. gpg -dq ~/.mail.gpg)"))
        var place = places[0].0
        if interactive && !options.passwordStdin {
            place = places[try await prompter.choose("Where should the password be kept?", options: places.map(\.1))].0
            if case .command = place {
                place = .command(try await prompter.ask("Command that prints the password"))
            }
        }
        do {
            let source = try await PasswordKeeper.keep(password, at: place, account: name)
            if case .file(let path) = source { say("The password is in \(path) (mode 0600).") }
            return source
        } catch let error as ConfigError {
            throw AccountFailure(.configuration, error.description)
        }
    }

    /// Delete after download, keep, or keep N days.
    func askRetention() async throws -> FetchAccountSettings.Retention {
        let choice = try await prompter.choose(
            "After a message is downloaded, on the server it is:",
            options: [
                "deleted (your mail lives on this device)",
                "kept (other devices can download it too)",
                "kept for a number of days, then deleted",
            ]
        )
        switch choice {
        case 1: return .keep
        case 2:
            while true {
                let answer = try await prompter.ask("Days to keep", default: "14")
                if let days = Int(answer), (0...100_000).contains(days) { return .keepDays(days) }
            }
        default: return .deleteAfterDownload
        }
    }
}
