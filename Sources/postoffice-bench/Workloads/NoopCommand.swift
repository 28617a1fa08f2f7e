// Pipelining: log in once, then write N NOOPs at once and time until the Nth +OK (RFC 2449 §6.6).

import ArgumentParser
import NIOCore
import NIOPosix

struct NoopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "noop",
        abstract: "N NOOPs pipelined on one logged-in connection; seconds until the last +OK."
    )

    @OptionGroup var target: TargetOptions
    @OptionGroup var accounts: AccountOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "NOOPs to pipeline.")
    var count = 100_000

    @Option(help: "Seconds the whole run may take at most.")
    var timeout: Double = 300

    @Option(help: "Name of the workload in results.")
    var workload = "noop"

    func run() throws {
        guard self.count > 0 else { throw ValidationError("--count must be positive") }
        let account = try self.accounts.accounts()[0]
        let target = try self.target.target()
        let group = self.output.makeGroup()
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let timeout = TimeAmount.nanoseconds(Int64(self.timeout * 1e9))
        let noops = ScriptStep.pipelined("NOOP", count: self.count)

        let channel = try target.connect(on: loop).wait()
        defer { channel.close(promise: nil) }
        _ = try loop.flatSubmit { channel.runScript(ScriptStep.login(account), timeout: timeout) }.wait()
        let started = NIODeadline.now()
        _ = try loop.flatSubmit { channel.runScript([noops], timeout: timeout) }.wait()
        let seconds = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        _ = try? loop.flatSubmit { channel.runScript([.command("QUIT")]) }.wait()

        var record = ResultRecord(workload: self.workload, label: self.output.label)
        record.add("noops", self.count)
        record.add("seconds", seconds)
        record.add("noops_per_s", Double(self.count) / seconds)
        try self.output.reporter.emit(record)
    }
}
