// Options shared by the workload commands.

import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

struct TargetOptions: ParsableArguments {
    @Option(help: "The server's address.")
    var host = "127.0.0.1"

    @Option(help: "The server's port.")
    var port: Int

    @Flag(help: "Implicit TLS (POP3S): TLS from the first byte.")
    var tls = false

    @Option(name: .customLong("ca-file"), help: "With --tls: trust the CA certificates in this PEM file.")
    var caFile: String?

    @Flag(help: "With --tls: do not verify the server's certificate.")
    var insecure = false

    @Option(name: .customLong("server-name"), help: "With --tls: the name the certificate must carry.")
    var serverName = "localhost"

    func validate() throws {
        if self.tls && self.caFile == nil && !self.insecure {
            throw ValidationError("--tls needs --ca-file PEM, or --insecure to skip verification explicitly")
        }
        if !self.tls && (self.caFile != nil || self.insecure) {
            throw ValidationError("--ca-file and --insecure apply to --tls only")
        }
    }

    func target() throws -> Target {
        Target(
            address: try Target.resolve(host: self.host, port: self.port),
            tls: self.tls ? try Target.tlsContext(caFile: self.caFile, insecure: self.insecure) : nil,
            serverName: self.tls ? self.serverName : nil
        )
    }
}

struct AccountOptions: ParsableArguments {
    @Option(name: .customLong("accounts"), help: "A file of user:password lines.")
    var accountsFile: String?

    @Option(name: .customLong("account-pattern"), help: "user:password with %d for a number, e.g. s%d:bench.")
    var pattern: String?

    @Option(name: .customLong("account-count"), help: "With --account-pattern: how many accounts.")
    var count = 1

    @Option(name: .customLong("account-first"), help: "With --account-pattern: the first number.")
    var first = 1

    func validate() throws {
        guard (self.accountsFile == nil) != (self.pattern == nil) else {
            throw ValidationError("give either --accounts FILE or --account-pattern PATTERN")
        }
    }

    func accounts() throws -> [Account] {
        if let pattern = self.pattern {
            return try AccountList.expand(pattern: pattern, first: self.first, count: self.count)
        }
        let text = try String(contentsOfFile: self.accountsFile!, encoding: .utf8)  // safe: validated
        let accounts = try AccountList.parse(text)
        guard !accounts.isEmpty else { throw ValidationError("no accounts in \(self.accountsFile!)") }
        return accounts
    }
}

struct OutputOptions: ParsableArguments {
    @Option(help: "The server's name in results (e.g. postoffice, dovecot).")
    var label = "server"

    @Option(name: .customLong("json"), help: "Append results as JSON lines to this file (- for standard output).")
    var jsonPath: String?

    @Option(name: .customLong("server-pid"), help: "The server's PID: its process tree's CPU and memory are read.")
    var serverPID: Int32?

    @Option(help: "Event-loop threads of the generator.")
    var threads = 1

    var reporter: Reporter { Reporter(jsonPath: self.jsonPath) }
    var serverTree: ProcessTree? { self.serverPID.map { ProcessTree(root: $0) } }

    func makeGroup() -> MultiThreadedEventLoopGroup {
        MultiThreadedEventLoopGroup(numberOfThreads: max(1, self.threads))
    }
}

struct TimingOptions: ParsableArguments {
    @Option(help: "Seconds measured.")
    var duration: Double = 8

    @Option(help: "Seconds of load before measuring starts.")
    var warmup: Double = 1

    func validate() throws {
        guard self.duration > 0, self.warmup >= 0 else {
            throw ValidationError("--duration must be positive and --warmup not negative")
        }
    }

    /// The measuring window, from now.
    func window() -> MeasuringWindow {
        let start = NIODeadline.now() + .nanoseconds(Int64(self.warmup * 1e9))
        return MeasuringWindow(start: start, end: start + .nanoseconds(Int64(self.duration * 1e9)))
    }
}

/// The interval in which results count.
struct MeasuringWindow: Sendable {
    var start: NIODeadline
    var end: NIODeadline

    var seconds: Double { Double((self.end - self.start).nanoseconds) / 1e9 }

    /// Seconds of the window gone by now (all of it once it has ended).
    func elapsed(now: NIODeadline = .now()) -> Double {
        max(0, Double((min(now, self.end) - self.start).nanoseconds) / 1e9)
    }

    func contains(_ instant: NIODeadline) -> Bool {
        instant >= self.start && instant <= self.end
    }

    /// Blocks the calling thread (not an event loop) until `instant`.
    static func sleep(until instant: NIODeadline) {
        let remaining = (instant - NIODeadline.now()).nanoseconds
        if remaining > 0 {
            Thread.sleep(forTimeInterval: Double(remaining) / 1e9)
        }
    }
}

/// CPU used by this process and by the server's process tree over the measuring window.
struct CPUMeter {
    var server: ProcessTree?
    private var startOwn = 0.0
    private var startServer = 0.0
    private var startTime = NIODeadline.now()

    init(server: ProcessTree?) {
        self.server = server
    }

    mutating func start() {
        self.startTime = NIODeadline.now()
        self.startOwn = ownCPUSeconds()
        self.startServer = self.server?.cpuSeconds() ?? 0
    }

    /// Adds `client_cpu` and `server_cpu` (fractions of one core) and, for `per` units of work,
    /// `server_cpu_ms_per_<unit>`.
    func stop(into record: inout ResultRecord, per count: Int, unit: String) {
        let wall = Double((NIODeadline.now() - self.startTime).nanoseconds) / 1e9
        guard wall > 0 else { return }
        record.add("client_cpu", (ownCPUSeconds() - self.startOwn) / wall)
        guard let server = self.server else { return }
        let used = server.cpuSeconds() - self.startServer
        record.add("server_cpu", used / wall)
        if count > 0 {
            record.add("server_cpu_ms_per_\(unit)", used * 1000 / Double(count))
        }
    }
}
