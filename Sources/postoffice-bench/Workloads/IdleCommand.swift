// Idle sessions: N sessions logged in and left idle; how many the server holds, and the memory its
// process tree uses for them (PSS from /proc/PID/smaps_rollup, children included).

import ArgumentParser
import NIOCore
import NIOPosix

struct IdleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle",
        abstract: "Hold N authenticated idle sessions; count those held and the server's memory (PSS)."
    )

    @OptionGroup var target: TargetOptions
    @OptionGroup var accounts: AccountOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Sessions to open (each on its own account).")
    var count = 1000

    @Option(help: "Logins in flight at a time while opening.")
    var concurrency = 32

    @Option(help: "Seconds to hold the sessions idle before checking them with NOOP.")
    var hold: Double = 2

    @Option(help: "Seconds the opening phase may take at most.")
    var timeout: Double = 600

    @Option(help: "Name of the workload in results.")
    var workload = "idle"

    func run() throws {
        let limit = raiseOpenFileLimit()
        let accounts = try self.accounts.accounts()
        guard self.count > 0, self.count <= accounts.count else {
            throw ValidationError("--count must be between 1 and the number of accounts (\(accounts.count))")
        }
        guard self.count + 64 < limit else {
            throw ValidationError("--count \(self.count) needs more open files than this process may have (\(limit))")
        }
        let target = try self.target.target()
        let group = self.output.makeGroup()
        defer { try? group.syncShutdownGracefully() }
        let tree = self.output.serverTree
        let baseline = tree?.proportionalSetSizeKiB()

        let opener = IdleOpener(
            loop: group.next(),
            target: target,
            accounts: Array(accounts.prefix(self.count)),
            concurrency: self.concurrency,
            deadline: NIODeadline.now() + .nanoseconds(Int64(self.timeout * 1e9))
        )
        let started = NIODeadline.now()
        try opener.open().wait()
        let openSeconds = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        MeasuringWindow.sleep(until: NIODeadline.now() + .nanoseconds(Int64(self.hold * 1e9)))
        let loaded = tree?.proportionalSetSizeKiB()
        let held = try opener.checkAndClose().wait()

        var record = ResultRecord(workload: self.workload, label: self.output.label)
        record.add("sessions", self.count)
        record.add("logged_in", opener.loggedIn)
        record.add("refused", self.count - opener.loggedIn)
        record.add("held", held)
        record.add("open_s", openSeconds)
        if let baseline, let loaded {
            record.add("pss_baseline_kib", baseline)
            record.add("pss_loaded_kib", loaded)
            if held > 0 {
                record.add("pss_per_session_kib", Double(loaded - baseline) / Double(held))
            }
        }
        if let firstError = opener.firstError { record.add("first_error", firstError) }
        try self.output.reporter.emit(record)
    }
}

/// Opens the idle sessions with a bounded number of logins in flight, then checks each with NOOP
/// and closes it. Touched only on `loop` until the futures it returns complete.
final class IdleOpener: @unchecked Sendable {
    let loop: any EventLoop
    let target: Target
    let accounts: [Account]
    let concurrency: Int
    let deadline: NIODeadline

    private var channels: [any Channel] = []
    private var nextIndex = 0
    private var inFlight = 0
    private var opened: EventLoopPromise<Void>?
    private(set) var firstError: String?

    /// Sessions whose login succeeded.
    var loggedIn: Int { self.channels.count }

    init(loop: any EventLoop, target: Target, accounts: [Account], concurrency: Int, deadline: NIODeadline) {
        self.loop = loop
        self.target = target
        self.accounts = accounts
        self.concurrency = max(1, concurrency)
        self.deadline = deadline
    }

    func open() -> EventLoopFuture<Void> {
        let promise = self.loop.makePromise(of: Void.self)
        self.loop.execute {
            self.opened = promise
            for _ in 0..<min(self.concurrency, self.accounts.count) {
                self.openNext()
            }
        }
        return promise.futureResult
    }

    private func openNext() {
        guard self.nextIndex < self.accounts.count, NIODeadline.now() < self.deadline else {
            if self.inFlight == 0 {
                self.opened?.succeed()
                self.opened = nil
            }
            return
        }
        let account = self.accounts[self.nextIndex]
        self.nextIndex += 1
        self.inFlight += 1
        self.target.connect(on: self.loop).flatMap { channel in
            channel.runScript(ScriptStep.login(account)).map { _ in channel }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }.whenComplete { result in
            self.inFlight -= 1
            switch result {
            case .success(let channel):
                self.channels.append(channel)
            case .failure(let error):
                if self.firstError == nil { self.firstError = "\(error)" }
            }
            self.openNext()
        }
    }

    /// Sends NOOP on every session (RFC 1939 §7), counts the `+OK`s, then QUITs and closes all.
    func checkAndClose() -> EventLoopFuture<Int> {
        self.loop.flatSubmit {
            let checks = self.channels.map { channel in
                channel.runScript([.command("NOOP")], timeout: .seconds(120)).map { _ in 1 }.recover { error in
                    if self.firstError == nil { self.firstError = "NOOP: \(error)" }
                    return 0
                }.flatMap { held in
                    channel.runScript([.command("QUIT")], timeout: .seconds(60)).map { _ in held }.recover { _ in held }
                }.always { _ in channel.close(promise: nil) }
            }
            return EventLoopFuture.whenAllSucceed(checks, on: self.loop).map { $0.reduce(0, +) }
        }
    }
}
