// Test support: checks a live server against a Transcript over a real loopback connection.
public import NIOCore
public import NIOSSL
import TestTiming

/// Plays the client side of a ``Transcript`` against a server and checks every byte the
/// server sends, line by line (CRLF included: a bare LF is a mismatch).
///
/// ```swift
/// let runner = TranscriptRunner(port: port, substitutions: [
///     "digest": { captures in apopDigest(timestamp: captures["timestamp"]!, secret: "tanstaaf") },
/// ])
/// try await runner.run(Transcript(text))
/// ```
public struct TranscriptRunner {
    /// Computes a `{{name}}` in a `C:` line from what `S:` lines captured so far.
    public typealias Substitution = ([String: String]) throws -> String

    public var host: String
    public var port: Int
    /// TLS from the first byte (an implicit-TLS listener).
    public var implicitTLS: NIOSSLContext?
    /// The client context `!starttls` uses.
    public var startTLS: NIOSSLContext?
    public var serverHostname: String?
    public var substitutions: [String: Substitution]
    /// The whole exchange must be over by then; a server that keeps a connection open
    /// where the transcript says `!close` is caught by it.
    public var deadline: TimeAmount

    public init(
        host: String = "127.0.0.1",
        port: Int,
        implicitTLS: NIOSSLContext? = nil,
        startTLS: NIOSSLContext? = nil,
        serverHostname: String? = "localhost",
        substitutions: [String: Substitution] = [:],
        deadline: TimeAmount = .seconds(20)
    ) {
        self.deadline = deadline
        self.host = host
        self.port = port
        self.implicitTLS = implicitTLS
        self.startTLS = startTLS
        self.serverHostname = serverHostname
        self.substitutions = substitutions
    }

    /// Connects, plays `transcript` and returns what its placeholders captured. Throws
    /// ``TranscriptMismatch`` at the first difference.
    @discardableResult
    public func run(_ transcript: Transcript) async throws -> [String: String] {
        try await POP3LineClient.withConnection(
            host: host,
            port: port,
            tls: implicitTLS,
            serverHostname: serverHostname,
            deadline: deadline
        ) { client in
            try await play(transcript, client: client)
        }
    }

    /// Plays `transcript` on a connection already open (the greeting not yet read, if the
    /// transcript starts with it).
    @discardableResult
    public func play(_ transcript: Transcript, client: POP3LineClient) async throws -> [String: String] {
        var captures: [String: String] = [:]
        var pending: [UInt8] = []
        func flush() async throws {
            guard !pending.isEmpty else { return }
            try await client.send(bytes: pending)
            pending = []
        }
        for entry in transcript.entries {
            switch entry.step {
            case .client(let template):
                pending += Array(try substitute(template, captures: captures, line: entry.line).utf8) + [0x0D, 0x0A]
            case .server(let template):
                try await flush()
                guard let received = try await client.readRawLine() else {
                    throw TranscriptMismatch(line: entry.line, expected: template + "␍␊", received: closed(client))
                }
                let shown = TranscriptMismatch.visible(received)
                guard received.count >= 2, received.suffix(2).elementsEqual([0x0D, 0x0A]) else {
                    throw TranscriptMismatch(line: entry.line, expected: template + "␍␊", received: shown)
                }
                guard let matched = TranscriptTemplate.match(Array(received.dropLast(2)), template: template) else {
                    throw TranscriptMismatch(line: entry.line, expected: template + "␍␊", received: shown)
                }
                captures.merge(matched) { _, new in new }
            case .startTLS:
                try await flush()
                guard let context = startTLS else {
                    throw TranscriptMismatch(
                        line: entry.line,
                        expected: "a TLS context for !starttls",
                        received: "none"
                    )
                }
                try await client.startTLS(context: context, serverHostname: serverHostname)
            case .serverCloses:
                try await flush()
                if let received = try await client.readRawLine() {
                    throw TranscriptMismatch(
                        line: entry.line,
                        expected: "<connection closed>",
                        received: TranscriptMismatch.visible(received)
                    )
                }
                guard !client.deadlineExpired else {
                    throw TranscriptMismatch(
                        line: entry.line,
                        expected: "<connection closed>",
                        received: closed(client)
                    )
                }
            }
        }
        try await flush()
        return captures
    }

    private func closed(_ client: POP3LineClient) -> String {
        client.deadlineExpired
            ? "<still open at the deadline of \(TestTimeScale.scaled(deadline))>" : "<connection closed>"
    }

    private func substitute(_ template: String, captures: [String: String], line: Int) throws -> String {
        var result = ""
        for part in TranscriptTemplate.parts(template) {
            switch part {
            case .literal(let text):
                result += text
            case .placeholder(let name):
                if let substitution = substitutions[name] {
                    result += try substitution(captures)
                } else if let captured = captures[name] {
                    result += captured
                } else {
                    throw TranscriptMismatch(line: line, expected: "a value for {{\(name)}}", received: "none")
                }
            }
        }
        return result
    }
}

/// The server did not send what the transcript says.
public struct TranscriptMismatch: Error, CustomStringConvertible {
    /// The transcript line (1-based) that failed.
    public var line: Int
    public var expected: String
    public var received: String

    public var description: String {
        "transcript line \(line):\n  expected \(expected)\n  received \(received)"
    }

    /// The bytes with CR, LF and other controls as control pictures, 8-bit bytes as `\xNN`.
    static func visible(_ bytes: [UInt8]) -> String {
        var text = ""
        for byte in bytes {
            switch byte {
            case 0x0D: text += "␍"
            case 0x0A: text += "␊"
            case 0x00..<0x20: text += String(Unicode.Scalar(0x2400 + UInt32(byte))!)  // safe: control pictures
            case 0x7F...: text += "\\x" + String(byte, radix: 16, uppercase: true)
            default: text += String(Unicode.Scalar(byte))
            }
        }
        return text
    }
}
