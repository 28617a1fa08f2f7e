// Targets for LMTP (RFC 2033, module LMTPCore): the command grammar alone, and the whole
// server session (framing, commands, DATA and its dot-unstuffing) driven by a hostile client.

import LMTPCore
import NIOCore

enum LMTPTargets {
    /// Each LF-separated line through the command parser, then the same bytes through a
    /// session whose recipient checks and deliveries succeed or fail as the first byte says.
    static func command(_ data: [UInt8]) {
        var input = FuzzInput(data)
        let control = input.byte()
        let chunkSize = Int(input.byte() % 64) + 1
        let body = input.rest()
        for line in lines(body) {
            var line = line
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            _ = try? CommandParser.parse(bytes: line)
        }

        var session = LMTPServerSession(configuration: .init(hostname: "fuzz.example"))
        var buffer = ByteBuffer()
        var answers = 0
        for chunk in chunks(body, size: chunkSize) {
            buffer.writeBytes(chunk)
            var steps = 0
            loop: while true {
                steps += 1
                check(steps <= 4 * chunk.count + 16, "the LMTP session made no progress")
                var action = session.next(input: &buffer)
                // The shell's answers, possibly several in a row (one per recipient).
                while true {
                    switch action {
                    case .checkRecipient:
                        answers += 1
                        let results: [LMTPServerSession.RecipientCheck] = [
                            .found(user: "alice"), .notFound, .temporaryFailure,
                        ]
                        action = session.recipientChecked(
                            results[Int(control &+ UInt8(truncatingIfNeeded: answers)) % 3]
                        )
                        continue
                    case .deliver(let request):
                        check(request.message.readableBytes <= body.count, "a delivered message larger than the input")
                        answers += 1
                        let outcomes: [LMTPServerSession.DeliveryOutcome] = [
                            .stored, .temporaryFailure, .storageFull, .noSuchUser,
                        ]
                        action = session.deliveryFinished(
                            outcomes[Int(control &+ UInt8(truncatingIfNeeded: answers)) % 4]
                        )
                        continue
                    case .send:
                        continue loop
                    case .readMore:
                        break loop
                    case .sendAndClose, .close:
                        check(session.isClosed, "the session asked to close but is not closed")
                        return
                    }
                }
            }
            buffer.discardReadBytes()
        }
    }
}
