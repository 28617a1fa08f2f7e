// RETR throughput: N sessions, each logged in to its own account, retrieving its messages over and
// over; every byte is checked against the corpus (the manifest's expected wire form).

import ArgumentParser
import NIOCore
import NIOPosix

struct RetrCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retr",
        abstract: "RETR throughput over N sessions, every byte checked against the corpus manifest."
    )

    @OptionGroup var target: TargetOptions
    @OptionGroup var accounts: AccountOptions
    @OptionGroup var timing: TimingOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "The corpus manifest (Benchmarks/corpus.py writes it).")
    var manifest: String

    @Option(help: "Sessions retrieving at the same time, each on its own account.")
    var sessions = 1

    @Option(name: .customLong("max-messages"), help: "Stop each session after this many RETRs.")
    var maxMessages = 10_000_000

    @Option(help: "Name of the workload in results.")
    var workload = "retr"

    func run() throws {
        let accounts = try self.accounts.accounts()
        guard self.sessions > 0, self.sessions <= accounts.count else {
            throw ValidationError("--sessions must be between 1 and the number of accounts (\(accounts.count))")
        }
        let used = Array(accounts.prefix(self.sessions))
        let expected = try Manifest.load(path: self.manifest).expectedMessages(for: used.map(\.user))
        let target = try self.target.target()
        let group = self.output.makeGroup()
        defer { try? group.syncShutdownGracefully() }

        let window = self.timing.window()
        let readers = used.enumerated().map { index, account in
            RetrSession(
                loop: group.next(),
                target: target,
                account: account,
                expected: expected[account.user]!,  // safe: expectedMessages has every account or throws
                window: window,
                limit: self.maxMessages,
                firstMessage: index
            )
        }
        let finished = readers.map { $0.start() }
        var cpu = CPUMeter(server: self.output.serverTree)
        MeasuringWindow.sleep(until: window.start)
        cpu.start()
        var failures: [String] = []
        for future in finished {
            do { try future.wait() } catch { failures.append("\(error)") }
        }
        let seconds = window.elapsed()

        var record = ResultRecord(workload: self.workload, label: self.output.label)
        let octets = readers.reduce(0) { $0 + $1.octetsInWindow }
        let messages = readers.reduce(0) { $0 + $1.messagesInWindow }
        record.add("sessions", self.sessions)
        record.add("tls", .bool(self.target.tls))
        record.add("messages", messages)
        record.add("verified", readers.reduce(0) { $0 + $1.verified })
        record.add("mb_per_s", seconds > 0 ? Double(octets) / 1e6 / seconds : 0)
        record.add("errors", failures.count)
        cpu.stop(into: &record, per: octets / 1_000_000, unit: "mb")
        if let first = failures.first { record.add("first_error", first) }
        try self.output.reporter.emit(record)
        if let first = failures.first {
            throw WorkloadFailure(description: "RETR check failed: \(first)")
        }
    }
}

/// One retrieving session: logs in, lists, then RETRs message after message until the window
/// ends. Touched only on `loop` until `start`'s future completes.
final class RetrSession: @unchecked Sendable {
    let loop: any EventLoop
    let target: Target
    let account: Account
    let expected: ExpectedMaildrop
    let window: MeasuringWindow
    let limit: Int
    let firstMessage: Int

    private(set) var octetsInWindow = 0
    private(set) var messagesInWindow = 0
    /// RETR answers whose every byte matched the corpus, in the window or not.
    private(set) var verified = 0
    private var steps: [ScriptStep] = []
    private var retrieved = 0

    init(
        loop: any EventLoop,
        target: Target,
        account: Account,
        expected: ExpectedMaildrop,
        window: MeasuringWindow,
        limit: Int,
        firstMessage: Int
    ) {
        self.loop = loop
        self.target = target
        self.account = account
        self.expected = expected
        self.window = window
        self.limit = limit
        self.firstMessage = firstMessage
    }

    func start() -> EventLoopFuture<Void> {
        let login = ScriptStep.login(self.account) + [.command("LIST", expecting: .listing(capture: true), keep: true)]
        return self.loop.flatSubmit {
            self.target.connect(on: self.loop).flatMap { channel in
                channel.runScript(login).flatMapThrowing { kept in
                    self.steps = try self.retrSteps(listing: kept)
                }.flatMap {
                    self.retrieveNext(on: channel)
                }.flatMap {
                    channel.runScript([.command("QUIT")])
                }.map { _ in }.always { _ in channel.close(promise: nil) }
            }
        }
    }

    /// One RETR step per listed message, each checked against the corpus messages of its size.
    private func retrSteps(listing kept: [ResponseEvent]) throws -> [ScriptStep] {
        guard case .ok(_, let lines) = kept.first else { throw WorkloadFailure(description: "no LIST answer") }
        guard lines.count == self.expected.count else {
            throw WorkloadFailure(
                description:
                    "\(self.account.user): LIST shows \(lines.count) messages, the corpus \(self.expected.count)"
            )
        }
        return try lines.map { line in
            let fields = String(buffer: line).split(separator: " ")
            guard fields.count == 2, let number = Int(fields[0]), let size = Int(fields[1]) else {
                throw WorkloadFailure(description: "bad LIST line: \(String(buffer: line))")
            }
            guard let candidates = self.expected.candidates(size: size) else {
                throw WorkloadFailure(
                    description: "\(self.account.user): no corpus message has the listed size \(size)"
                )
            }
            return .command("RETR \(number)", expecting: .message(candidates: candidates))
        }
    }

    private func retrieveNext(on channel: any Channel) -> EventLoopFuture<Void> {
        let done = self.loop.makePromise(of: Void.self)
        self.retrieveNext(on: channel, done: done)
        return done.futureResult
    }

    /// RETRs the next message, then the one after (a loop through callbacks, not a growing chain
    /// of futures), until the window ends.
    private func retrieveNext(on channel: any Channel, done: EventLoopPromise<Void>) {
        guard NIODeadline.now() < self.window.end, self.retrieved < self.limit else {
            done.succeed()
            return
        }
        let step = self.steps[(self.firstMessage + self.retrieved) % self.steps.count]
        self.retrieved += 1
        channel.runScript([step]).whenComplete { result in
            switch result {
            case .success:
                self.verified += 1
                if self.window.contains(NIODeadline.now()), case .message(let candidates) = step.expecting {
                    self.octetsInWindow += candidates[0].size
                    self.messagesInWindow += 1
                }
                self.retrieveNext(on: channel, done: done)
            case .failure(let error):
                done.fail(error)
            }
        }
    }
}
