import ArgumentParser
import Foundation
import LMTPServer
import Testing

@testable import postoffice

@Suite("serve --lmtp and [server].lmtp")
struct LMTPSettingsTests {
    func temporaryFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "postoffice-test-\(UUID().uuidString).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("flags: HOST:PORT and unix:PATH, repeatable; none by default")
    func flags() throws {
        #expect(try ServeOptions.parse([]).resolve(canBindPrivilegedPorts: false).lmtp.isEmpty)
        let settings = try ServeOptions.parse([
            "--lmtp", "127.0.0.1:24", "--lmtp", "unix:/run/postoffice/lmtp", "--lmtp", "[::1]:2424",
        ]).resolve(canBindPrivilegedPorts: false)
        #expect(
            settings.lmtp == [
                .tcp(host: "127.0.0.1", port: 24), .unix(path: "/run/postoffice/lmtp"), .tcp(host: "::1", port: 2424),
            ]
        )
        #expect(settings.lmtp.map(\.description) == ["127.0.0.1:24", "unix:/run/postoffice/lmtp", "[::1]:2424"])
    }

    @Test("bad values are refused", arguments: ["unix:", "24", "host:", "localhost"])
    func badFlags(_ value: String) {
        #expect(throws: (any Error).self) { try ServeOptions.parse(["--lmtp", value]) }
    }

    @Test("the config file's lmtp and lmtp_max_message_size; flags replace the file's listeners")
    func configFile() throws {
        let path = try temporaryFile(
            """
            [server]
            lmtp = ["unix:/var/spool/postfix/private/postoffice-lmtp", "127.0.0.1:24"]
            lmtp_max_message_size = 2000000
            """
        )
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try ServeOptions.parse(["--config", path]).resolve(canBindPrivilegedPorts: false)
        #expect(
            fromFile.lmtp == [
                .unix(path: "/var/spool/postfix/private/postoffice-lmtp"), .tcp(host: "127.0.0.1", port: 24),
            ]
        )
        #expect(fromFile.lmtpMaxMessageSize == 2_000_000)
        let flagged = try ServeOptions.parse(["--config", path, "--lmtp", "127.0.0.1:2424"])
            .resolve(canBindPrivilegedPorts: false)
        #expect(flagged.lmtp == [.tcp(host: "127.0.0.1", port: 2424)])

        let bad = try temporaryFile("[server]\nlmtp = [\"nowhere\"]\n")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        #expect(throws: (any Error).self) {
            try ServeOptions.parse(["--config", bad]).resolve(canBindPrivilegedPorts: false)
        }
    }
}
