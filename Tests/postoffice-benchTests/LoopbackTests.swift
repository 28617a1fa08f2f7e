import NIOCore
import NIOPosix
import Testing

@testable import postoffice_bench

/// The generator against the responder, in one process on loopback.
@Suite("generator and responder on loopback")
struct LoopbackTests {
    static let messages = ResponderMaildrop.synthetic(count: 5, size: 3000)

    /// Runs `body` against a responder whose maildrop holds `served`.
    static func withResponder<T>(
        serving served: [WireMessage] = Self.messages,
        _ body: (any EventLoop, Target) throws -> T
    ) throws -> T {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let maildrops = ResponderMaildrops(byUser: [:], fallback: ResponderMaildrop(messages: served))
        let server = try ResponderCommand.bind("127.0.0.1:0", tls: nil, maildrops: maildrops, group: group)
        defer { try? server.close().wait() }
        let target = Target(address: server.localAddress!, tls: nil, serverName: nil)
        return try body(group.next(), target)
    }

    static func retrieveAll(loop: any EventLoop, target: Target, expected: [WireMessage]) throws -> [ResponseEvent] {
        let channel = try target.connect(on: loop).wait()
        defer { channel.close(promise: nil) }
        var steps = ScriptStep.login(Account(user: "u", password: "p"))
        steps.append(.command("STAT", keep: true))
        for (index, message) in expected.enumerated() {
            steps.append(.command("RETR \(index + 1)", expecting: .message(candidates: [message]), keep: true))
        }
        steps.append(.command("QUIT"))
        let script = steps
        return try loop.flatSubmit { channel.runScript(script, timeout: .seconds(10)) }.wait()
    }

    @Test("a full session: every message retrieved and checked byte for byte")
    func session() throws {
        let kept = try Self.withResponder { loop, target in
            try Self.retrieveAll(loop: loop, target: target, expected: Self.messages)
        }
        #expect(kept.count == 1 + Self.messages.count)
        let total = Self.messages.reduce(0) { $0 + $1.size }
        try SessionClient.check(stat: kept.first, expect: Self.messages.count)
        #expect(kept.first?.statusText == "+OK \(Self.messages.count) \(total)")
    }

    @Test("a server sending other bytes than the corpus fails the check")
    func corruptServer() throws {
        var served = Self.messages
        served[2] = WireMessage(stored: Array(repeating: UInt8(ascii: "x"), count: served[2].size - 2))
        #expect(served[2].size == Self.messages[2].size)
        #expect(throws: ScriptError.self) {
            try Self.withResponder(serving: served) { loop, target in
                try Self.retrieveAll(loop: loop, target: target, expected: Self.messages)
            }
        }
    }

    @Test("pipelined commands are all answered")
    func pipelining() throws {
        try Self.withResponder { loop, target in
            let channel = try target.connect(on: loop).wait()
            defer { channel.close(promise: nil) }
            let steps = ScriptStep.login(Account(user: "u", password: "p")) + [.pipelined("NOOP", count: 5000)]
            _ = try loop.flatSubmit { channel.runScript(steps, timeout: .seconds(10)) }.wait()
        }
    }

    @Test("session clients count completed sessions and their latencies within the window")
    func sessionClients() throws {
        try Self.withResponder { loop, target in
            let start = NIODeadline.now()
            let window = MeasuringWindow(start: start, end: start + .milliseconds(300))
            let scripts = SessionsCommand.scripts(accounts: [Account(user: "a", password: "b")], client: 0, clients: 1)
            let client = SessionClient(
                loop: loop,
                target: target,
                scripts: scripts,
                window: window,
                limit: 50,
                expectMessages: Self.messages.count
            )
            try client.start().wait()
            #expect(client.errors == 0)
            #expect(client.samples.count > 0 && client.samples.count <= 50)
        }
    }

    @Test("accounts are dealt round robin: no two clients share one when there are enough")
    func dealing() {
        let accounts = (1...6).map { Account(user: "s\($0)", password: "p") }
        let users = (0..<3).map { client in
            SessionsCommand.scripts(accounts: accounts, client: client, clients: 3).map { steps in
                String(buffer: steps[1].command!)
            }
        }
        #expect(
            users == [
                ["USER s1\r\n", "USER s4\r\n"], ["USER s2\r\n", "USER s5\r\n"], ["USER s3\r\n", "USER s6\r\n"],
            ]
        )
    }
}
