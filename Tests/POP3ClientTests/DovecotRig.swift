// Starts Dovecot's real POP3 server on a loopback port for interoperability tests, with its
// own generated configuration (never the system's), a passwd-file and a Maildir the test fills.
//
// Debian's dovecot-pop3d refuses mail processes as uid 0, so the users' mail belongs to
// nobody:nogroup (65534), which exists on every Debian system; the master runs as the test's
// user (root in CI) and is stopped by its PID. Needs the Debian packages dovecot-core and
// dovecot-pop3d: without them `start` throws, so the tests fail with a message saying so.

import Crypto
import Foundation
import Glibc
import POP3TestSupport

/// A running Dovecot POP3 server with test users and mail.
final class DovecotRig {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let dovecotBinary = "/usr/sbin/dovecot"
    static let pop3Binary = "/usr/lib/dovecot/pop3"
    /// The owner of the mail files: Dovecot will not serve mail as root.
    static let mailUID: uid_t = 65534
    static let mailGID: gid_t = 65534

    let directory: URL
    /// Plain POP3 with STLS.
    let port: Int
    /// POP3 over implicit TLS.
    let tlsPort: Int
    /// The CA that signed the server's certificate (for "localhost" and 127.0.0.1), as a PEM file.
    let caFile: String
    /// The Dovecot master's process id; 0 once it was reaped.
    private var pid: pid_t

    /// Writes the configuration and mail, starts `dovecot -F -c FILE` and waits until it listens.
    ///
    /// - Parameter mail: per user, the message files' contents (LF line ends, as Maildir stores them).
    init(users: [String: String], mail: [String: [[UInt8]]]) throws {
        for binary in [Self.dovecotBinary, Self.pop3Binary] where !FileManager.default.isExecutableFile(atPath: binary)
        {
            throw Failure(
                description: "Dovecot is not installed (\(binary) is missing): install the Debian packages "
                    + "dovecot-core and dovecot-pop3d to run the interoperability tests"
            )
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dovecot-\(UUID().uuidString)")
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        chmod(directory.path, 0o755)

        let ca = try TestPKI.makeCA(name: "Dovecot Rig CA")
        let server = try TestPKI.makeServer(dnsNames: ["localhost"], issuer: ca)
        let certPath = directory.appendingPathComponent("cert.pem").path
        let keyPath = directory.appendingPathComponent("key.pem").path
        try (server.pem + "\n" + ca.pem + "\n").write(toFile: certPath, atomically: true, encoding: .utf8)
        try server.key.pemRepresentation.write(toFile: keyPath, atomically: true, encoding: .utf8)
        chmod(keyPath, 0o600)
        self.caFile = directory.appendingPathComponent("ca.pem").path
        try ca.pem.write(toFile: self.caFile, atomically: true, encoding: .utf8)

        let mailRoot = directory.appendingPathComponent("mail")
        var passwd = ""
        for (user, password) in users.sorted(by: { $0.key < $1.key }) {
            let home = mailRoot.appendingPathComponent(user)
            for sub in ["cur", "new", "tmp"] {
                try FileManager.default.createDirectory(
                    at: home.appendingPathComponent(sub),
                    withIntermediateDirectories: true
                )
            }
            for (index, message) in (mail[user] ?? []).enumerated() {
                // Unique names as qmail writes them; delivery order is the name order.
                let name = "\(1_700_000_000 + index).M\(index)P1.rig"
                try Data(message).write(to: home.appendingPathComponent("new/\(name)"))
            }
            passwd += "\(user):{PLAIN}\(password):\(Self.mailUID):\(Self.mailGID)::\(home.path)\n"
        }
        try Self.chownTree(mailRoot)
        let passwdPath = directory.appendingPathComponent("passwd").path
        try passwd.write(toFile: passwdPath, atomically: true, encoding: .utf8)

        self.port = try Self.freePort()
        self.tlsPort = try Self.freePort()
        let configuration = """
            protocols = pop3
            listen = 127.0.0.1
            base_dir = \(directory.path)/run
            state_dir = \(directory.path)/state
            log_path = \(directory.path)/dovecot.log
            ssl = yes
            ssl_cert = <\(certPath)
            ssl_key = <\(keyPath)
            disable_plaintext_auth = no
            auth_mechanisms = plain login scram-sha-256
            first_valid_uid = 1
            mail_location = maildir:~
            pop3_uidl_format = %08Xu%08Xv
            passdb {
              driver = passwd-file
              args = scheme=PLAIN \(passwdPath)
            }
            userdb {
              driver = passwd-file
              args = \(passwdPath)
            }
            service pop3-login {
              inet_listener pop3 {
                port = \(self.port)
              }
              inet_listener pop3s {
                port = \(self.tlsPort)
                ssl = yes
              }
            }
            service imap-login {
              inet_listener imap {
                port = 0
              }
              inet_listener imaps {
                port = 0
              }
            }

            """
        let configPath = directory.appendingPathComponent("dovecot.conf").path
        try configuration.write(toFile: configPath, atomically: true, encoding: .utf8)

        let output = directory.appendingPathComponent("stdout.log").path
        self.pid = try spawnChild(Self.dovecotBinary, arguments: ["-F", "-c", configPath], output: output)
        do {
            try self.waitUntilListening(port: self.port)
            try self.waitUntilListening(port: self.tlsPort)
        } catch {
            self.stop()
            throw Failure(description: "\(error); Dovecot's log: \(self.log)")
        }
    }

    /// Dovecot's own log, for failure messages.
    var log: String {
        let files = ["stdout.log", "dovecot.log"].map { self.directory.appendingPathComponent($0).path }
        return files.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n")
    }

    /// The message files left in a user's Maildir (after Dovecot moved them to cur/).
    func messageFiles(of user: String) throws -> [String] {
        let home = self.directory.appendingPathComponent("mail/\(user)")
        return try ["new", "cur"].flatMap {
            try FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent($0).path)
        }
    }

    /// Stops the master by its PID (SIGTERM, then SIGKILL after 10 s) and reaps it.
    func stop() {
        guard self.pid > 0 else { return }
        kill(self.pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<500 {
            if waitpid(self.pid, &status, WNOHANG) != 0 {
                self.pid = 0
                return
            }
            usleep(20_000)
        }
        kill(self.pid, SIGKILL)
        waitpid(self.pid, &status, 0)
        self.pid = 0
    }

    /// Whether the master is still running (reaping it if it exited).
    private func isRunning() -> Bool {
        guard self.pid > 0 else { return false }
        var status: Int32 = 0
        if waitpid(self.pid, &status, WNOHANG) == 0 { return true }
        self.pid = 0
        return false
    }

    deinit {
        self.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }

    private static func chownTree(_ root: URL) throws {
        guard chown(root.path, Self.mailUID, Self.mailGID) == 0 else {
            throw Failure(
                description:
                    "cannot give \(root.path) to uid \(Self.mailUID) (errno \(errno)); the tests must run as root"
            )
        }
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        while let relative = enumerator?.nextObject() as? String {
            _ = chown(root.appendingPathComponent(relative).path, Self.mailUID, Self.mailGID)
        }
    }

    /// A port that was free a moment ago (bound to 0, read back, closed).
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw Failure(description: "bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Polls until something accepts on 127.0.0.1:`port` (at most 15 s).
    private func waitUntilListening(port: Int) throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            guard self.isRunning() else { throw Failure(description: "Dovecot exited at start") }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            close(fd)
            if connected == 0 { return }
            usleep(50_000)
        }
        throw Failure(description: "Dovecot did not listen on port \(port) within 15 s")
    }
}
