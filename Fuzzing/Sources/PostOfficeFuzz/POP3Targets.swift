// Targets for the POP3 wire protocol (POP3Core): what a server reads from clients and what a
// client reads from servers. Inputs are fed in chunks of a size the input chooses, the way a
// network delivers them.

import MailStore
import NIOCore
import POP3Core

enum POP3Targets {
    /// The server's view of a client: line framer plus command grammar (RFC 1939 §3, RFC 2449
    /// §3, RFC 5034 §4). A line that parses must survive encode-then-parse unchanged, and the
    /// parser must always make progress.
    static func command(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let chunkSize = Int(input.byte() % 32) + 1
        let expectations = input.byte()
        let body = input.rest()
        var parser = CommandParser()
        var buffer = ByteBuffer()
        var lineIndex = 0
        for chunk in chunks(body, size: chunkSize) {
            buffer.writeBytes(chunk)
            var steps = 0
            while true {
                steps += 1
                check(steps <= chunk.count + 2, "the command parser made no progress")
                let expecting: CommandParser.Expectation =
                    (expectations >> (lineIndex % 8)) & 1 == 1 ? .saslResponse : .command
                let before = buffer.readableBytes
                do {
                    guard let line = try parser.parseClientLine(buffer: &buffer, expecting: expecting) else { break }
                    lineIndex += 1
                    checkRoundTrip(line, expecting: expecting)
                } catch {
                    lineIndex += 1
                    check(buffer.readableBytes < before || before == 0, "a rejected line was not consumed")
                }
            }
            buffer.discardReadBytes()
            check(buffer.readableBytes < POP3Limits().maximumLineLength, "the parser buffered past the line limit")
        }
    }

    /// What the client would send for `line` parses back to `line`.
    private static func checkRoundTrip(_ line: ClientLine, expecting: CommandParser.Expectation) {
        var encoded = ByteBuffer()
        encoded.writePOP3ClientLine(line)
        encoded.moveWriterIndex(to: encoded.writerIndex - 2)  // the CRLF
        let limits = POP3Limits(maximumCommandLineLength: .max, maximumSASLResponseLineLength: .max)
        do {
            let again = try CommandParser.parse(line: encoded, expecting: expecting, limits: limits)
            check(
                again == line,
                "\(line) encodes as \(String(decoding: encoded.readableBytesView, as: UTF8.self)), which parses as \(again)"
            )
        } catch {
            check(
                false,
                "\(line) encodes as \(String(decoding: encoded.readableBytesView, as: UTF8.self)), which fails: \(error)"
            )
        }
    }

    /// The line framer alone, against a model: a line is everything up to LF (a CR before it
    /// dropped); a line whose length with its LF passes the limit is reported as overlong once
    /// and skipped. Chunking must not change the frames.
    static func lineFramer(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let limit = Int(input.byte() % 64) + 3
        let chunkSize = Int(input.byte() % 16) + 1
        let body = input.rest()
        let whole = frames(body, limit: limit, chunkSize: max(1, body.count))
        let chunked = frames(body, limit: limit, chunkSize: chunkSize)
        let model = modelFrames(body, limit: limit)
        check(whole == model, "framer \(whole) differs from the model \(model) (limit \(limit))")
        check(chunked == model, "framer in chunks of \(chunkSize): \(chunked), model \(model) (limit \(limit))")
    }

    /// A line, or `nil` for an overlong line.
    private static func frames(_ body: [UInt8], limit: Int, chunkSize: Int) -> [[UInt8]?] {
        var framer = LineFramer(maximumLineLength: limit)
        var buffer = ByteBuffer()
        var result: [[UInt8]?] = []
        for chunk in chunks(body, size: chunkSize) {
            buffer.writeBytes(chunk)
            while let frame = framer.next(buffer: &buffer) {
                switch frame {
                case .line(let line):
                    check(
                        line.readableBytes + 1 <= limit,
                        "a line of \(line.readableBytes) bytes passed limit \(limit)"
                    )
                    result.append(Array(line.readableBytesView))
                case .overlong:
                    result.append(nil)
                }
            }
            check(buffer.readableBytes < limit, "the framer holds \(buffer.readableBytes) bytes, limit \(limit)")
        }
        return result
    }

    private static func modelFrames(_ body: [UInt8], limit: Int) -> [[UInt8]?] {
        var result: [[UInt8]?] = []
        var start = 0
        while start < body.count {
            guard let lf = body[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                if body.count - start >= limit { result.append(nil) }
                break
            }
            if lf - start + 1 <= limit {
                var line = Array(body[start..<lf])
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                result.append(line)
            } else {
                result.append(nil)
            }
            start = lf + 1
        }
        return result
    }

    /// The client's response parser, with the shape of each response chosen by the input. It
    /// must make progress, never return more body bytes than it read, and end at a boundary
    /// after a whole multi-line body.
    static func response(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let chunkSize = Int(input.byte() % 64) + 1
        let shapes = [input.byte(), input.byte(), input.byte(), input.byte()]
        let body = input.rest()
        var parser = ResponseParser(maximumStatusLineLength: 512, maximumListingLineLength: 512)
        var buffer = ByteBuffer()
        var responseIndex = 0
        var bodyBytes = 0
        var consumed = 0
        for chunk in chunks(body, size: chunkSize) {
            buffer.writeBytes(chunk)
            var steps = 0
            while true {
                steps += 1
                check(steps <= 2 * chunk.count + 4, "the response parser made no progress")
                let shape: ResponseShape
                switch shapes[responseIndex % 4] % 4 {
                case 0: shape = .singleLine
                case 1: shape = .multiLineIfOK(.lines)
                case 2: shape = .multiLineIfOK(.content)
                default: shape = .saslContinuationOrFinal
                }
                let before = buffer.readableBytes
                let part: ClientResponsePart?
                do {
                    part = try parser.parse(&buffer, expecting: shape)
                } catch {
                    return  // the client closes the connection
                }
                consumed += before - buffer.readableBytes
                guard let part else { break }
                switch part {
                case .multiLineBytes(let bytes):
                    bodyBytes += bytes.readableBytes
                    check(bodyBytes <= consumed, "\(bodyBytes) body bytes out of \(consumed) read")
                case .multiLineLine(let line):
                    check(line.readableBytes < 512, "a listing line of \(line.readableBytes) bytes")
                case .multiLineEnd:
                    check(parser.isAtResponseBoundary, "multiLineEnd inside a body")
                    responseIndex += 1
                    bodyBytes = 0
                    consumed = 0
                case .status, .saslChallenge:
                    if parser.isAtResponseBoundary {
                        responseIndex += 1
                        bodyBytes = 0
                        consumed = 0
                    }
                }
            }
            buffer.discardReadBytes()
            check(buffer.readableBytes <= 512, "the response parser buffered \(buffer.readableBytes) bytes")
        }
    }

    /// The dot-unstuffing decoder against a model of RFC 1939 §3, fed whole and in chunks.
    static func dotUnstuffing(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let chunkSize = Int(input.byte() % 16) + 1
        let body = input.rest()
        let model = modelUnstuff(body)
        for size in [max(1, body.count), chunkSize] {
            let (decoded, consumed, finished) = unstuff(body, chunkSize: size)
            check(finished == model.finished, "finished \(finished), model \(model.finished) (chunks of \(size))")
            check(decoded == model.output, "decoded \(decoded), model \(model.output) (chunks of \(size))")
            check(consumed == model.consumed, "consumed \(consumed), model \(model.consumed) (chunks of \(size))")
        }
    }

    /// Runs `wire` through a `DotUnstuffingDecoder` in chunks of `chunkSize` bytes, stopping at
    /// the end of the body: the bytes decoded, the bytes read, and whether the end was found.
    static func unstuff(_ wire: [UInt8], chunkSize: Int) -> (decoded: [UInt8], consumed: Int, finished: Bool) {
        var decoder = DotUnstuffingDecoder()
        var output = ByteBuffer()
        var consumed = 0
        var finished = false
        for chunk in chunks(wire, size: chunkSize) where !finished {
            var buffer = ByteBuffer(bytes: chunk)
            finished = decoder.decode(&buffer, into: &output)
            consumed += chunk.count - buffer.readableBytes
            check(finished || buffer.readableBytes == 0, "the decoder left bytes before the end")
        }
        return (Array(output.readableBytesView), consumed, finished)
    }

    /// RFC 1939 §3, written for clarity: lines end at CRLF; a line "." ends the body; a line
    /// starting with "." loses that dot. A pending ".", or ".CR", at the end is held back.
    static func modelUnstuff(_ bytes: [UInt8]) -> (output: [UInt8], consumed: Int, finished: Bool) {
        let dot = UInt8(ascii: ".")
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            // At the start of a line.
            if bytes[index] == dot {
                let next = index + 1 < bytes.count ? bytes[index + 1] : nil
                let after = index + 2 < bytes.count ? bytes[index + 2] : nil
                if next == cr, after == lf { return (output, index + 3, true) }
                if next == nil || (next == cr && after == nil) { return (output, bytes.count, false) }
                index += 1
            }
            var previous: UInt8?
            while index < bytes.count {
                let byte = bytes[index]
                output.append(byte)
                index += 1
                if byte == lf, previous == cr { break }
                previous = byte
            }
        }
        return (output, bytes.count, false)
    }

    /// Stuffing then unstuffing gives the message back as RETR sends it: line ends made CRLF
    /// (a bare LF becomes CRLF) and a last line without a line end given one, whatever the
    /// chunking on each side. That is also the size the store lists (`CRLFSizeCounter`) and the
    /// octet count the encoder reports: LIST and RETR agree (DESIGN invariant 5).
    static func dotStuffingRoundTrip(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let encodeChunk = Int(input.byte() % 16) + 1
        let decodeChunk = Int(input.byte() % 16) + 1
        let message = input.rest()

        var encoder = DotStuffingEncoder()
        var wire = ByteBuffer()
        for chunk in chunks(message, size: encodeChunk) {
            encoder.encode(ByteBuffer(bytes: chunk), into: &wire)
        }
        encoder.finish(into: &wire)
        let wireBytes = Array(wire.readableBytesView)

        let (decoded, consumed, finished) = unstuff(wireBytes, chunkSize: decodeChunk)
        let expected = asSent(message)
        check(finished, "the decoder did not find the end of an encoded body")
        check(consumed == wireBytes.count, "the decoder stopped at \(consumed) of \(wireBytes.count) bytes")
        check(decoded == expected, "round trip of \(message) gave \(decoded)")
        check(
            CRLFSizeCounter.size(of: message) == expected.count,
            "listed size \(CRLFSizeCounter.size(of: message)), sent \(expected.count)"
        )
        check(encoder.messageOctets == expected.count, "messageOctets \(encoder.messageOctets), sent \(expected.count)")
    }

    /// `message` as RETR sends it before stuffing: every LF preceded by CR, and a non-empty
    /// message that does not end in LF given one (a trailing CR completed to CRLF).
    static func asSent(_ message: [UInt8]) -> [UInt8] {
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        var result: [UInt8] = []
        result.reserveCapacity(message.count + message.count / 8 + 2)
        for byte in message {
            if byte == lf, result.last != cr { result.append(cr) }
            result.append(byte)
        }
        switch result.last {
        case nil, lf?: break
        case cr?: result.append(lf)
        case _?: result += [cr, lf]
        }
        return result
    }
}
