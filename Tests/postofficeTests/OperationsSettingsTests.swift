import ArgumentParser
import Foundation
import Glibc
import Prometheus
import ServerMetrics
import Testing

@testable import postoffice

@Suite("serve --run-as, --metrics, --admin-socket; secret files; the metrics factory")
struct OperationsSettingsTests {
    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "postoffice-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func runAsParsesUserAndGroup() {
        #expect(RunAs(parsing: "mail") == RunAs(parsing: "mail"))
        #expect(RunAs(parsing: "mail")?.group == nil)
        #expect(RunAs(parsing: "mail:adm")?.user == "mail")
        #expect(RunAs(parsing: "mail:adm")?.group == "adm")
        for bad in ["", ":adm", "mail:"] { #expect(RunAs(parsing: bad) == nil, "\(bad)") }
    }

    @Test func flagsThenFileThenDefaults() throws {
        let defaults = try ServeOptions.parse([]).resolve(canBindPrivilegedPorts: false)
        #expect(defaults.runAs == nil)
        #expect(defaults.metrics == nil)
        #expect(defaults.adminSocket == "postoffice-data/admin.sock")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = directory + "/postoffice.toml"
        try """
        [server]
        data_dir = "/var/lib/po"
        run_as = "mail:mail"
        metrics = "127.0.0.1:9110"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let fromFile = try ServeOptions.parse(["--config", config]).resolve(canBindPrivilegedPorts: false)
        #expect(fromFile.runAs == RunAs(parsing: "mail:mail"))
        #expect(fromFile.metrics == ListenAddress(host: "127.0.0.1", port: 9110))
        #expect(fromFile.adminSocket == "/var/lib/po/admin.sock", "beside the data")
        let flags = try ServeOptions.parse([
            "--config", config, "--run-as", "nobody", "--metrics", "[::1]:9999", "--admin-socket", "/run/po.sock",
        ]).resolve(canBindPrivilegedPorts: false)
        #expect(flags.runAs == RunAs(parsing: "nobody"))
        #expect(flags.metrics == ListenAddress(host: "::1", port: 9999))
        #expect(flags.adminSocket == "/run/po.sock")
        #expect(throws: (any Error).self) {
            try ServeOptions.parse(["--run-as", "nobody:"]).resolve(canBindPrivilegedPorts: false)
        }
    }

    @Test func identitiesAreLookedUpInTheSystemDatabases() throws {
        let root = try ServiceIdentity.lookUp(#require(RunAs(parsing: "root")))
        #expect(root.uid == 0 && root.gid == 0 && root.isRoot)
        let nobody = try ServiceIdentity.lookUp(#require(RunAs(parsing: "nobody:root")))
        #expect(nobody.userName == "nobody" && nobody.gid == 0 && nobody.groupName == "root")
        #expect(throws: ConfigError.self) { try ServiceIdentity.lookUp(#require(RunAs(parsing: "no-such-user-x"))) }
        #expect(throws: ConfigError.self) {
            try ServiceIdentity.lookUp(#require(RunAs(parsing: "nobody:no-such-group-x")))
        }
    }

    @Test func theDataDirectorysOwnerIsTheDefaultIdentity() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let nobody = try #require(UserRecord(name: "nobody"))
        guard geteuid() == 0 else {
            // Not root: nothing can be given to another user; the directory is ours.
            #expect(ServiceIdentity.defaultIdentity(dataDirectory: directory)?.uid == geteuid())
            return
        }
        #expect(chown(directory, nobody.uid, nobody.gid) == 0)
        #expect(ServiceIdentity.defaultIdentity(dataDirectory: directory)?.userName == "nobody")
    }

    @Test func secretFilesOpenToOthersAreRefusedWithTheFix() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/key.pem"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("k".utf8)))
        for (mode, fine) in [(0o600, true), (0o640, true), (0o644, false), (0o604, false), (0o660, false)] {
            #expect(chmod(path, mode_t(mode)) == 0)
            let problem = SecretFilePermissions.problem(path: path, what: "TLS key")
            #expect((problem == nil) == fine, "mode \(String(mode, radix: 8)): \(problem ?? "fine")")
        }
        #expect(chmod(path, 0o644) == 0)
        #expect(SecretFilePermissions.problem(path: path, what: "TLS key")?.contains("chmod o-rwx \(path)") == true)
        #expect(chmod(path, 0o660) == 0)
        #expect(SecretFilePermissions.problem(path: path, what: "passwd-file")?.contains("chmod g-w \(path)") == true)
        #expect(SecretFilePermissions.problem(path: directory + "/absent", what: "TLS key") == nil)
    }

    @Test func thePrometheusFactoryEmitsHelpTypesAndBuckets() {
        let registry = PrometheusCollectorRegistry()
        let metrics = ServerMetrics(factory: DescribedPrometheusFactory(registry: registry))
        metrics.login(result: .success, mechanism: "PLAIN", duration: .milliseconds(7))
        metrics.messageRetrieved(octets: 1234)
        metrics.sessionOpened(listener: .pop3s)
        var bytes: [UInt8] = []
        registry.emit(into: &bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        for descriptor in MetricNames.all {
            #expect(text.contains("# HELP \(descriptor.name) \(descriptor.help)\n"), "\(descriptor.name)")
        }
        #expect(text.contains("# TYPE postoffice_pop3_login_duration_seconds histogram"))
        #expect(text.contains("postoffice_pop3_login_duration_seconds_bucket{result=\"success\",le=\"0.01\"} 1"))
        #expect(text.contains("postoffice_pop3_logins_total{result=\"success\",mechanism=\"PLAIN\"} 1"))
        #expect(text.contains("postoffice_pop3_retrieved_bytes_total 1234"))
        #expect(text.contains("postoffice_pop3_sessions_open 1"))
    }

    @Test func reloadNamesWhatNeedsARestart() {
        #expect(Reloader.changesNeedingRestart(from: Self.settings(), to: Self.settings()).isEmpty)
        var changed = Self.settings()
        changed.metrics = ListenAddress(host: "127.0.0.1", port: 1)
        changed.site.maildirTemplate = "/x/%u"
        #expect(Reloader.changesNeedingRestart(from: Self.settings(), to: changed) == ["maildir", "metrics"])
    }

    static func settings() -> ServerSettings {
        ServerSettings(site: .defaults(), listen: [], listenTLS: [], usesDefaultListeners: true)
    }
}
