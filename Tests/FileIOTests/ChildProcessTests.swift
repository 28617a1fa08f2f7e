import FileIO
import Foundation
import Testing

@Suite("ChildProcess: spawn, feed, collect, reap by pid")
struct ChildProcessTests {
    @Test("exit statuses and signals are told apart")
    func terminations() throws {
        #expect(try ChildProcess.shell("exit 0").run().termination == .exited(0))
        #expect(try ChildProcess.shell("exit 3").run().termination == .exited(3))
        #expect(try ChildProcess.shell("kill -9 $$").run().termination == .signalled(9))
        #expect(ChildProcess.Termination.signalled(9).description == "was killed by signal 9")
    }

    @Test("input and output pass through together, larger than a pipe holds")
    func feedsAndCollects() throws {
        // 3 MB through cat into a 1 MB cap: cat answers while it reads, so the runner
        // must drain while it feeds; the cap cuts the collected copy, not the child.
        let input = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let result = try ChildProcess.shell("cat").run(input: .bytes(input), output: .capture)
        #expect(result.termination == .exited(0))
        #expect(result.output.count == ChildProcess.maximumCapturedBytes)
        #expect(result.output[...] == input[..<ChildProcess.maximumCapturedBytes])

        let small = try ChildProcess.shell("tr a-z A-Z").run(input: .bytes(Array("mail\n".utf8)), output: .capture)
        #expect(small.output == Array("MAIL\n".utf8))
    }

    @Test("a child that stops reading ends the feeding, not this process")
    func brokenPipe() throws {
        let input = [UInt8](repeating: 65, count: 8 << 20)
        let result = try ChildProcess.shell("head -c 10 >/dev/null").run(input: .bytes(input))
        #expect(result.termination == .exited(0))
    }

    @Test("standard input from a file, and the environment given")
    func fileInputAndEnvironment() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID()).txt").path
        defer { unlink(path) }
        try Data("from a file\n".utf8).write(to: URL(fileURLWithPath: path))
        let child = ChildProcess.shell("cat; printf %s \"$GREETING\"", environment: ["GREETING": "hello"])
        let result = try child.run(input: .file(path: path), output: .capture)
        #expect(String(decoding: result.output, as: UTF8.self) == "from a file\nhello")
    }

    @Test("no descriptor of ours reaches the child, and a lingering grandchild does not hold us")
    func descriptorsStayHome() throws {
        // A descriptor open without close-on-exec, as another library might leave one.
        var descriptors: [Int32] = [-1, -1]
        #expect(pipe(&descriptors) == 0)
        defer { descriptors.forEach { close($0) } }
        let listing = try ChildProcess.shell("ls /proc/$$/fd").run(output: .capture)
        let open = String(decoding: listing.output, as: UTF8.self).split(separator: "\n").compactMap { Int32($0) }
        #expect(!open.contains(descriptors[0]) && !open.contains(descriptors[1]), "child saw \(open)")
        #expect(open.allSatisfy { $0 <= 3 }, "child saw \(open)")

        // The child returns while a background grandchild (with output discarded) lives on.
        let started = ContinuousClock.now
        let result = try ChildProcess.shell("sleep 8 & exit 0").run()
        #expect(result.termination == .exited(0))
        #expect(ContinuousClock.now - started < .seconds(6))
    }

    @Test("a program that does not exist cannot be started, and says so")
    func missingProgram() {
        #expect(throws: ChildProcess.StartError.self) {
            try ChildProcess(executable: "/nonexistent/program", arguments: ["program"]).run()
        }
        #expect(throws: ChildProcess.StartError.self) {
            try ChildProcess.shell("cat").run(input: .file(path: "/nonexistent/input"))
        }
    }
}
