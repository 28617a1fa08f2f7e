// Micro-benchmarks of the hot paths issue 7 names: command parsing, dot-stuffing both ways next
// to a plain copy, listing a 100,000-message Maildir through MailStore's public API, and the
// client's response parser; each with its allocation counts.
//
// The byte benchmarks process one MiB per iteration, so their throughput reads as MiB/s.

import Benchmark
import Foundation
import MailStore
import NIOCore
import POP3Core

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    // MARK: - Command parsing (server side)

    let commandLines = [
        "USER alice", "PASS correct horse battery staple", "STAT", "UIDL", "LIST 17", "RETR 17", "DELE 17",
        "TOP 3 10", "NOOP", "QUIT",
    ].map { ByteBuffer(string: $0) }
    Benchmark("CommandParser.parseCommand, 1,000 lines") { benchmark in
        for _ in benchmark.scaledIterations {
            for _ in 0..<100 {
                for line in commandLines {
                    blackHole(try CommandParser.parseCommand(line: line))
                }
            }
        }
    }

    var pipelined = ByteBuffer()
    for _ in 0..<100 {
        for line in commandLines {
            pipelined.writeImmutableBuffer(line)
            pipelined.writeString("\r\n")
        }
    }
    let pipelinedInput = pipelined
    Benchmark("CommandParser.parseClientLine, 1,000 pipelined lines framed and parsed") { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = CommandParser()
            var buffer = pipelinedInput
            while let line = try parser.parseClientLine(buffer: &buffer, expecting: .command) {
                blackHole(line)
            }
        }
    }

    // MARK: - Dot-stuffing, next to a plain copy

    let stored = Corpus.storedMessage(bytes: 1 << 20)
    let storedChunks = stride(from: 0, to: stored.readableBytes, by: 65536).map { offset in
        stored.getSlice(at: offset, length: min(65536, stored.readableBytes - offset))!
    }
    Benchmark("memcpy 1 MiB in 64 KiB chunks (baseline for the coders)") { benchmark in
        var output = ByteBuffer()
        output.reserveCapacity(stored.readableBytes + 65536)
        for _ in benchmark.scaledIterations {
            output.clear()
            for chunk in storedChunks {
                output.writeImmutableBuffer(chunk)
            }
            blackHole(output)
        }
    }

    Benchmark("DotStuffingEncoder.encode 1 MiB in 64 KiB chunks (RETR)") { benchmark in
        var output = ByteBuffer()
        output.reserveCapacity(stored.readableBytes * 2)
        for _ in benchmark.scaledIterations {
            output.clear()
            var encoder = DotStuffingEncoder()
            for chunk in storedChunks {
                encoder.encode(chunk, into: &output)
            }
            encoder.finish(into: &output)
            blackHole(output)
        }
    }

    let wire = DotStuffingEncoder.encode(stored)
    let wireChunks = stride(from: 0, to: wire.readableBytes, by: 65536).map { offset in
        wire.getSlice(at: offset, length: min(65536, wire.readableBytes - offset))!
    }
    Benchmark("DotUnstuffingDecoder.decode 1 MiB in 64 KiB chunks (fetch)") { benchmark in
        var output = ByteBuffer()
        output.reserveCapacity(wire.readableBytes + 65536)
        for _ in benchmark.scaledIterations {
            output.clear()
            var decoder = DotUnstuffingDecoder()
            for chunk in wireChunks {
                var input = chunk
                decoder.decode(&input, into: &output)
            }
            precondition(decoder.isFinished)
            blackHole(output)
        }
    }

    // MARK: - Client response parsing

    var listing = ByteBuffer(string: "+OK 1000 messages\r\n")
    for number in 1...1000 {
        listing.writeString("\(number) 1700000000.M\(number)P4242Q\(number).bench\r\n")
    }
    listing.writeString(".\r\n")
    let listingInput = listing
    Benchmark("ResponseParser, a UIDL listing of 1,000 lines") { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = ResponseParser()
            var buffer = listingInput
            var lines = 0
            while let part = try parser.parse(&buffer, expecting: .multiLineIfOK(.lines)) {
                if case .multiLineEnd = part { break }
                lines += 1
            }
            precondition(lines == 1001)
        }
    }

    var retr = ByteBuffer(string: "+OK message follows\r\n")
    retr.writeImmutableBuffer(wire)
    let retrChunks = stride(from: 0, to: retr.readableBytes, by: 65536).map { offset in
        retr.getSlice(at: offset, length: min(65536, retr.readableBytes - offset))!
    }
    Benchmark("ResponseParser, RETR of 1 MiB in 64 KiB chunks") { benchmark in
        for _ in benchmark.scaledIterations {
            var parser = ResponseParser()
            var pending = ByteBuffer()
            var octets = 0
            var ended = false
            for chunk in retrChunks {
                var input = chunk
                pending.writeBuffer(&input)
                while let part = try parser.parse(&pending, expecting: .multiLineIfOK(.content)) {
                    switch part {
                    case .multiLineBytes(let bytes): octets += bytes.readableBytes
                    case .multiLineEnd: ended = true
                    default: break
                    }
                    if ended { break }
                }
            }
            precondition(ended && octets > 0)
        }
    }

    // MARK: - Listing a large Maildir

    let maildir = Corpus.maildir(messages: 100_000)
    Benchmark(
        "MaildirStore.openMaildrop of 100,000 messages (names with ,S= and ,W=), first by a new store, then close",
        configuration: .init(maxDuration: .seconds(10), maxIterations: 50)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            let store = try MaildirStore(template: maildir.template)
            let maildrop = try await store.openMaildrop(user: "big")
            precondition(maildrop.messages.count == 100_000)
            await maildrop.close()
        }
    }
    Benchmark(
        "MaildirStore.openMaildrop of 100,000 messages (names with ,S= and ,W=), again: the listing kept, then close",
        configuration: .init(maxDuration: .seconds(10), maxIterations: 50)
    ) { benchmark in
        let store = try MaildirStore(template: maildir.template)
        // Two opens first: the Maildir was just made, so the first listing may not be trusted yet.
        for _ in 0..<2 {
            let warming = try await store.openMaildrop(user: "big")
            await warming.close()
        }
        for _ in benchmark.scaledIterations {
            let maildrop = try await store.openMaildrop(user: "big")
            precondition(maildrop.messages.count == 100_000)
            await maildrop.close()
        }
    }
}

/// Inputs made once per process.
enum Corpus {
    /// About `bytes` octets of LF text: lines of 20 to 100 characters, one in twenty starting with
    /// ".", as Maildir files store mail.
    static func storedMessage(bytes: Int) -> ByteBuffer {
        var generator = SystemRandomNumberGenerator()
        var buffer = ByteBuffer(string: "From: bench@example.org\nSubject: one MiB\n\n")
        var line = 0
        while buffer.readableBytes < bytes {
            line += 1
            if line % 20 == 0 { buffer.writeString(".") }
            let length = Int.random(in: 20...100, using: &generator)
            buffer.writeString(String(repeating: "x", count: length))
            buffer.writeString("\n")
        }
        return buffer
    }

    struct Maildir {
        var root: String
        var template: String
    }

    /// A Maildir of `messages` small messages with Dovecot-style names, made once in a
    /// temporary directory (removed when the process ends).
    static func maildir(messages: Int) -> Maildir {
        let root = NSTemporaryDirectory() + "postoffice-micro-\(getpid())"
        let path = root + "/big/Maildir"
        let body = "From: bench@example.org\nSubject: small\n\nhello\n"
        let crlf = body.utf8.count + body.utf8.filter { $0 == UInt8(ascii: "\n") }.count
        for sub in ["new", "cur", "tmp"] {
            try! FileManager.default.createDirectory(atPath: path + "/" + sub, withIntermediateDirectories: true)
        }
        let data = Data(body.utf8)
        for index in 0..<messages {
            let name = "\(1_700_000_000 + index).M\(index)P4242Q\(index).bench,S=\(body.utf8.count),W=\(crlf)"
            let sub = index % 2 == 0 ? "cur" : "new"
            let file = path + "/" + sub + "/" + name + (sub == "cur" ? ":2,S" : "")
            FileManager.default.createFile(atPath: file, contents: data)
        }
        atexit {
            let root = NSTemporaryDirectory() + "postoffice-micro-\(getpid())"
            try? FileManager.default.removeItem(atPath: root)
        }
        return Maildir(root: root, template: root + "/%u/Maildir")
    }
}
