// Session rate: complete sessions (connect, USER/PASS, STAT, UIDL, QUIT) back to back from
// `concurrency` clients; sessions per second, latency percentiles, CPU per session.

import ArgumentParser
import NIOCore
import NIOPosix

struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "Sessions per second: connect, USER/PASS, STAT, UIDL, QUIT, from N concurrent clients."
    )

    @OptionGroup var target: TargetOptions
    @OptionGroup var accounts: AccountOptions
    @OptionGroup var timing: TimingOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Clients running sessions at the same time (each on its own account, round robin).")
    var concurrency = 16

    @Option(name: .customLong("max-sessions"), help: "Stop after this many sessions in all.")
    var maxSessions = 10_000_000

    @Option(name: .customLong("expect-messages"), help: "Check that STAT reports this many messages.")
    var expectMessages: Int?

    @Option(help: "Name of the workload in results.")
    var workload = "sessions"

    func run() throws {
        raiseOpenFileLimit()
        let accounts = try self.accounts.accounts()
        guard self.concurrency > 0, self.maxSessions > 0 else {
            throw ValidationError("--concurrency and --max-sessions must be positive")
        }
        let target = try self.target.target()
        let group = self.output.makeGroup()
        defer { try? group.syncShutdownGracefully() }

        let window = self.timing.window()
        let perClient = (self.maxSessions + self.concurrency - 1) / self.concurrency
        let clients = (0..<self.concurrency).map { index in
            SessionClient(
                loop: group.next(),
                target: target,
                scripts: Self.scripts(accounts: accounts, client: index, clients: self.concurrency),
                window: window,
                limit: perClient,
                expectMessages: self.expectMessages
            )
        }
        let finished = clients.map { $0.start() }

        var cpu = CPUMeter(server: self.output.serverTree)
        MeasuringWindow.sleep(until: window.start)
        cpu.start()
        // The clients stop at the window's end, or earlier once they have run --max-sessions.
        for future in finished { try future.wait() }
        let seconds = window.elapsed()
        var record = ResultRecord(workload: self.workload, label: self.output.label)

        var samples = LatencySamples()
        var errors = 0
        var firstError: String?
        for client in clients {
            samples.merge(client.samples)
            errors += client.errors
            firstError = firstError ?? client.firstError
        }
        record.add("concurrency", self.concurrency)
        record.add("tls", .bool(self.target.tls))
        record.add("sessions", samples.count)
        record.add("sessions_per_s", seconds > 0 ? Double(samples.count) / seconds : 0)
        if let ranks = samples.percentiles([50, 99]) {
            record.add("p50_ms", ranks[0])
            record.add("p99_ms", ranks[1])
        }
        record.add("errors", errors)
        cpu.stop(into: &record, per: samples.count, unit: "session")
        if let firstError { record.add("first_error", firstError) }
        try self.output.reporter.emit(record)
        if samples.count == 0 {
            throw WorkloadFailure(description: "no session completed: \(firstError ?? "no error seen")")
        }
    }

    /// The session scripts client `client` cycles through: one per account it owns (accounts are
    /// dealt round robin, so no two clients share a maildrop when there are enough accounts).
    static func scripts(accounts: [Account], client: Int, clients: Int) -> [[ScriptStep]] {
        let own = stride(from: client % accounts.count, to: accounts.count, by: max(1, min(clients, accounts.count)))
        return own.map { index in
            ScriptStep.login(accounts[index]) + [
                .command("STAT", keep: true),
                .command("UIDL", expecting: .listing(capture: false)),
                .command("QUIT"),
            ]
        }
    }
}

/// One client of the session workload: runs sessions back to back on its event loop until the
/// window ends or its count is reached. Touched only on `loop` until `start`'s future completes.
final class SessionClient: @unchecked Sendable {
    let loop: any EventLoop
    let target: Target
    let scripts: [[ScriptStep]]
    let window: MeasuringWindow
    let limit: Int
    let expectMessages: Int?

    private(set) var samples = LatencySamples()
    private(set) var errors = 0
    private(set) var firstError: String?
    private var started = 0
    private var done: EventLoopPromise<Void>?

    init(
        loop: any EventLoop,
        target: Target,
        scripts: [[ScriptStep]],
        window: MeasuringWindow,
        limit: Int,
        expectMessages: Int?
    ) {
        self.loop = loop
        self.target = target
        self.scripts = scripts
        self.window = window
        self.limit = limit
        self.expectMessages = expectMessages
    }

    func start() -> EventLoopFuture<Void> {
        let promise = self.loop.makePromise(of: Void.self)
        self.loop.execute {
            self.done = promise
            self.next()
        }
        return promise.futureResult
    }

    private func next() {
        let begin = NIODeadline.now()
        guard begin < self.window.end, self.started < self.limit else {
            self.done?.succeed()
            self.done = nil
            return
        }
        let script = self.scripts[self.started % self.scripts.count]
        self.started += 1
        let expect = self.expectMessages
        self.target.connect(on: self.loop).flatMap { channel in
            channel.runScript(script).flatMapThrowing { kept in
                try Self.check(stat: kept.first, expect: expect)
            }.always { _ in channel.close(promise: nil) }
        }.whenComplete { result in
            let end = NIODeadline.now()
            switch result {
            case .success:
                if self.window.contains(end) {
                    self.samples.record(UInt64((end - begin).nanoseconds))
                }
                self.next()
            case .failure(let error):
                self.record(error)
                // A refusing server must not turn the client into a busy loop.
                self.loop.scheduleTask(in: .milliseconds(10)) { self.next() }
            }
        }
    }

    private func record(_ error: any Error) {
        self.errors += 1
        if self.firstError == nil { self.firstError = "\(error)" }
    }

    /// Checks a `+OK n size` STAT answer against the expected message count.
    static func check(stat: ResponseEvent?, expect: Int?) throws {
        guard let expect else { return }
        guard case .ok(let line, _) = stat else { throw WorkloadFailure(description: "no STAT answer") }
        let fields = String(buffer: line).split(separator: " ")
        guard fields.count >= 3, Int(fields[1]) == expect else {
            throw WorkloadFailure(description: "STAT answered \(String(buffer: line)); expected \(expect) messages")
        }
    }
}
