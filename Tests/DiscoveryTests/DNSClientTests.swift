import Foundation
import NIOCore
import NIOPosix
import POP3TestSupport
import Testing

@testable import Discovery

/// Debian's dnsmasq, started by the test on a free loopback port with a configuration of its
/// own (no system resolver, no hosts file, no upstream), stopped by its PID. Started with
/// `spawnChild`, not Foundation's Process: dnsmasq closes its inherited descriptors, which
/// would leave Foundation's reaper thread blocked on it and every other Process of the run
/// waiting forever.
final class Dnsmasq {
    let port: Int
    private var pid: pid_t = 0
    private let directory: String

    /// Starts dnsmasq; a port taken meanwhile by someone else (tests run in parallel) means
    /// another try on another port.
    static func start(_ records: [String]) async throws -> Dnsmasq {
        var lastError: (any Error)?
        for _ in 0..<3 {
            do {
                return try await Dnsmasq(records)
            } catch {
                lastError = error
            }
        }
        throw lastError!  // safe: three tries failed
    }

    private init(_ records: [String]) async throws {
        self.directory = NSTemporaryDirectory() + "dnsmasq-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        self.port = try await Self.freeUDPPort()
        let config =
            [
                "port=\(self.port)", "listen-address=127.0.0.1", "bind-interfaces", "no-resolv", "no-hosts", "no-poll",
                "no-negcache", "local=/test/",
                // As ourselves: a dnsmasq that changed to another user may not be stopped by us.
                "user=\(NSUserName())",
            ] + records
        try (config.joined(separator: "\n") + "\n").write(
            toFile: self.directory + "/dnsmasq.conf",
            atomically: true,
            encoding: .utf8
        )
        self.pid = try spawnChild(
            "/usr/sbin/dnsmasq",
            arguments: ["--keep-in-foreground", "--pid-file=", "--conf-file=\(self.directory)/dnsmasq.conf"],
            output: self.directory + "/log"
        )
        // Ready when it answers (bounded: about 10 s).
        let probe = DNSClient(servers: [self.server], attemptTimeout: .milliseconds(200))
        for _ in 0..<50 where childIsRunning(self.pid) {
            if (try? await probe.query("ready.test", type: .a)) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let output = (try? String(contentsOfFile: self.directory + "/log", encoding: .utf8)) ?? ""
        if !childIsRunning(self.pid) { self.pid = 0 }  // already reaped: nothing to kill
        self.stop()
        throw DNSError("dnsmasq did not start on port \(self.port): \(output)")
    }

    var server: DNSServerAddress { DNSServerAddress(host: "127.0.0.1", port: self.port) }
    var client: DNSClient { DNSClient(servers: [self.server], attemptTimeout: .seconds(2)) }

    func stop() {
        if self.pid > 0 {
            // SIGKILL: a child of a Swift test inherits a signal mask that blocks SIGTERM.
            stopChild(self.pid)
            self.pid = 0
        }
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    static func freeUDPPort() async throws -> Int {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!  // safe: just bound
        try await channel.close()  // before dnsmasq binds it
        return port
    }
}

@Suite("DNS client against dnsmasq", .serialized)
struct DNSClientTests {
    @Test func srvAndAddressRecords() async throws {
        let dns = try await Dnsmasq.start([
            "srv-host=_pop3s._tcp.example.test,pop.example.test,995,10,5",
            "srv-host=_pop3s._tcp.example.test,backup.example.test,995,20,0",
            "host-record=pop.example.test,127.0.0.1,::1",
            "cname=mail.example.test,pop.example.test",
        ])
        defer { dns.stop() }
        let records = try await dns.client.srv("_pop3s._tcp.example.test")
        #expect(
            Set(records) == [
                SRVRecord(priority: 10, weight: 5, port: 995, target: "pop.example.test"),
                SRVRecord(priority: 20, weight: 0, port: 995, target: "backup.example.test"),
            ]
        )
        #expect(records.orderedForUse().map(\.target) == ["pop.example.test", "backup.example.test"])
        #expect(try await dns.client.addresses("pop.example.test") == ["127.0.0.1", "::1"])
        #expect(try await dns.client.addresses("MAIL.example.test") == ["127.0.0.1", "::1"], "through the CNAME")
        #expect(try await dns.client.srv("_pop3._tcp.example.test") == [], "no such record")
        #expect(try await dns.client.addresses("nosuch.example.test") == [], "NXDOMAIN")
    }

    @Test func aTruncatedAnswerIsAskedAgainOverTCP() async throws {
        // 30 records with long names do not fit the 512 octets this dnsmasq allows over UDP.
        let records = (0..<30).map {
            "srv-host=_pop3s._tcp.big.test,server-with-a-rather-long-name-\($0).big.test,995,\($0),1"
        }
        let dns = try await Dnsmasq.start(records + ["edns-packet-max=512"])
        defer { dns.stop() }
        let truncated = try DNSMessage.parse(
            try await DNSClient.exchangeUDP(
                try DNSMessage.query(id: 1, name: "_pop3s._tcp.big.test", type: .srv),
                with: dns.server,
                timeout: .seconds(2)
            ),
            id: 1,
            name: "_pop3s._tcp.big.test",
            type: .srv
        )
        #expect(truncated.truncated, "the test needs a truncated UDP answer")
        let all = try await dns.client.srv("_pop3s._tcp.big.test")
        #expect(all.count == 30)
        #expect(all.orderedForUse().first?.target == "server-with-a-rather-long-name-0.big.test")
    }

    @Test func aRefusingServerIsAnError() async throws {
        let dns = try await Dnsmasq.start([])
        defer { dns.stop() }
        // Outside its local domains and without upstream servers, dnsmasq refuses.
        await #expect(throws: DNSError.self) { try await dns.client.srv("_pop3s._tcp.example.com") }
    }

    @Test func aSilentServerTimesOutInBoundedTime() async throws {
        let silent = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { silent.close(promise: nil) }
        let client = DNSClient(
            servers: [DNSServerAddress(host: "127.0.0.1", port: silent.localAddress!.port!)],  // safe: bound
            attemptTimeout: .milliseconds(200)
        )
        let start = ContinuousClock.now
        do {
            _ = try await client.srv("_pop3s._tcp.example.test")
            Issue.record("expected a timeout")
        } catch {
            #expect(error.message.contains("did not answer"))
        }
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func theSystemResolverIsReadFromResolvConf() async throws {
        let path = NSTemporaryDirectory() + "resolv-\(UUID().uuidString).conf"
        try "nameserver 192.0.2.53\nnameserver 192.0.2.54:5353\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let client = await DNSClient.system(resolvConf: path)
        // "192.0.2.54:5353" is no resolv.conf syntax: the line is skipped.
        #expect(client.servers == [DNSServerAddress(host: "192.0.2.53")])
        #expect(await DNSClient.system(resolvConf: path + ".missing").servers == [DNSServerAddress(host: "127.0.0.1")])
    }
}
