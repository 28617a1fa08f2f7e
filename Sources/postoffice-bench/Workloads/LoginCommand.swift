// Login to a large maildrop: connect, USER/PASS, STAT, timed; the first login after a server start
// and the ones after it (which a server may answer from what it kept).

import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

struct LoginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Time USER/PASS/STAT on one account, several times: the first login and the later ones."
    )

    @OptionGroup var target: TargetOptions
    @OptionGroup var accounts: AccountOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "Logins in all (the first, then the later ones).")
    var repeats = 4

    @Option(name: .customLong("expect-messages"), help: "Check that STAT reports this many messages.")
    var expectMessages: Int?

    @Option(help: "Seconds one login may take at most.")
    var timeout: Double = 300

    @Option(help: "Name of the workload in results.")
    var workload = "login"

    func run() throws {
        guard self.repeats > 0 else { throw ValidationError("--repeats must be positive") }
        let account = try self.accounts.accounts()[0]
        let target = try self.target.target()
        let group = self.output.makeGroup()
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let timeout = TimeAmount.nanoseconds(Int64(self.timeout * 1e9))
        let script = ScriptStep.login(account) + [.command("STAT", keep: true)]

        var seconds: [Double] = []
        for _ in 0..<self.repeats {
            let started = NIODeadline.now()
            let channel = try target.connect(on: loop).wait()
            let kept: [ResponseEvent]
            do {
                kept = try loop.flatSubmit { channel.runScript(script, timeout: timeout) }.wait()
            } catch {
                channel.close(promise: nil)
                throw error
            }
            seconds.append(Double((NIODeadline.now() - started).nanoseconds) / 1e9)
            try SessionClient.check(stat: kept.first, expect: self.expectMessages)
            _ = try? loop.flatSubmit { channel.runScript([.command("QUIT")], timeout: timeout) }.wait()
            _ = try? channel.close().wait()
        }

        var record = ResultRecord(workload: self.workload, label: self.output.label)
        record.add("logins", self.repeats)
        record.add("first_s", seconds[0])
        if let later = median(Array(seconds.dropFirst())) {
            record.add("later_s", later)
        }
        record.add("all_s", seconds.map { String(format: "%.4f", $0) }.joined(separator: ","))
        try self.output.reporter.emit(record)
    }
}
