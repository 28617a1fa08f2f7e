import Foundation
import NIOCore
import Testing

@testable import postoffice_bench

@Suite("accounts, statistics, process readings and reports")
struct SupportTests {
    @Test("an accounts file: user:password lines, comments and blank lines skipped")
    func accountsFile() throws {
        let accounts = try AccountList.parse("# bench\nalice:secret\n\nbob:pa:ss\r\n")
        #expect(accounts == [Account(user: "alice", password: "secret"), Account(user: "bob", password: "pa:ss")])
        #expect(throws: AccountList.Invalid.self) { try AccountList.parse("nocolon\n") }
        #expect(throws: AccountList.Invalid.self) { try AccountList.parse(":password\n") }
    }

    @Test("an account pattern is numbered")
    func accountPattern() throws {
        let accounts = try AccountList.expand(pattern: "s%d:pw%d", first: 9, count: 3)
        #expect(accounts.map(\.user) == ["s9", "s10", "s11"])
        #expect(accounts.map(\.password) == ["pw9", "pw10", "pw11"])
        #expect(throws: AccountList.Invalid.self) { try AccountList.expand(pattern: "s:pw", first: 1, count: 2) }
        #expect(try AccountList.expand(pattern: "big:pw", first: 1, count: 1) == [Account(user: "big", password: "pw")])
    }

    @Test(
        "nearest-rank percentiles",
        arguments: [(50.0, 10, 4), (99.0, 10, 9), (100.0, 10, 9), (0.0, 10, 0), (50.0, 1, 0)]
    )
    func nearestRank(rank: Double, count: Int, index: Int) {
        #expect(LatencySamples.nearestRank(rank, count: count) == index)
    }

    @Test("percentiles in milliseconds and medians")
    func percentiles() {
        var samples = LatencySamples()
        for value in [5, 1, 4, 2, 3] { samples.record(UInt64(value) * 1_000_000) }
        #expect(samples.percentiles([50, 99]) == [3, 5])
        #expect(LatencySamples().percentiles([50]) == nil)
        #expect(median([3, 1, 2]) == 2)
        #expect(median([4, 1, 2, 3]) == 2.5)
        #expect(median([]) == nil)
    }

    @Test("the measuring window's elapsed time stops at its end")
    func window() {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        let window = MeasuringWindow(start: start, end: start + .seconds(2))
        #expect(window.seconds == 2)
        #expect(window.elapsed(now: start + .milliseconds(500)) == 0.5)
        #expect(window.elapsed(now: start + .seconds(5)) == 2)
        #expect(window.elapsed(now: start - .seconds(1)) == 0)
        #expect(window.contains(start + .seconds(1)) && !window.contains(start + .seconds(3)))
    }

    @Test("/proc/PID/stat: the command name may hold spaces and parentheses")
    func parseStat() {
        let text = "1234 (pop3 (x) y) S 77 1234 1234 0 -1 4194560 100 0 0 0 11 22 33 44 20 0 1 0 5 0 0"
        #expect(ProcessTree.parseStat(text) == ProcessTree.Stat(parent: 77, cpuTicks: 11 + 22 + 33 + 44))
        #expect(ProcessTree.parseStat("garbage") == nil)
    }

    @Test("this process and a child of it are found, with memory and CPU")
    func ownTree() throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["5"]
        try child.run()
        defer { child.terminate() }
        let tree = ProcessTree(root: getpid())
        #expect(tree.members().contains(child.processIdentifier))
        #expect(tree.proportionalSetSizeKiB() > 0)
        #expect(tree.cpuSeconds() > 0)
        #expect(ProcessTree.field("Pss:", in: "Rss: 10 kB\nPss:     1234 kB\n") == 1234)
    }

    @Test("a result as a JSON line, keys in order, strings escaped")
    func jsonLine() {
        var record = ResultRecord(workload: "sessions", label: "dove\"cot")
        record.add("concurrency", 64)
        record.add("p50_ms", 3.25)
        record.add("tls", .bool(false))
        record.add("first_error", "a\nb")
        #expect(
            record.jsonLine
                == #"{"workload":"sessions","label":"dove\"cot","concurrency":64,"p50_ms":3.25,"tls":false,"first_error":"a\nb"}"#
        )
        let decoded = try? JSONSerialization.jsonObject(with: Data(record.jsonLine.utf8)) as? [String: Any]
        #expect(decoded?["label"] as? String == "dove\"cot")
    }
}
