// Delivery through a command (procmail, maildrop, dovecot-lda…): message on standard input.
import Foundation
import NIOCore

/// Runs `/bin/sh -c COMMAND` per message with the message (LF line ends, trace header on top)
/// on standard input. Exit status 0 means delivered; anything else means not delivered, so the
/// message is not recorded and not deleted on the server, and the run reports it.
///
/// Idempotence: a command cannot be asked whether it already has a message, so a crash between
/// the command's success and the state record re-delivers that one message on the next run.
/// No mail is lost; the `X-PostOffice-UIDL` header lets the command drop the duplicate (e.g.
/// `formail -D` on Message-ID). The environment carries `POSTOFFICE_UIDL` and `POSTOFFICE_KEY`.
final class MDADeliverer: Deliverer {
    let command: String
    let spoolDirectory: String

    init(command: String, spoolDirectory: String) {
        self.command = command
        self.spoolDirectory = spoolDirectory
    }

    func existingLocation(of key: DeliveryKey) throws -> String? { nil }

    func locationExists(_ location: String, key: DeliveryKey) -> Bool { true }

    func isHeadersOnlyCopy(at location: String) -> Bool { true }

    func makeWriter(for envelope: DeliveryEnvelope, replacing: Bool) throws -> any MessageWriter {
        let spool = try SpoolFile(
            path: "\(spoolDirectory)/.postoffice-mda-\(envelope.key.hash).tmp",
            quoteFromLines: false
        )
        try spool.writeRaw(TraceHeader.lines(for: envelope))
        return Writer(command: command, spool: spool, envelope: envelope)
    }

    private final class Writer: MessageWriter {
        let command: String
        let spool: SpoolFile
        let envelope: DeliveryEnvelope

        init(command: String, spool: SpoolFile, envelope: DeliveryEnvelope) {
            self.command = command
            self.spool = spool
            self.envelope = envelope
        }

        func write(_ chunk: ByteBuffer) throws {
            try spool.writeMessage(chunk)
        }

        func sync() throws {
            _ = try spool.finishMessage()
            try spool.sync()
            spool.closeFile()
        }

        func commit() throws -> String {
            defer { spool.remove() }
            guard let input = FileHandle(forReadingAtPath: spool.path) else {
                throw FetchFailure(kind: .localWrite, message: "cannot reopen the spooled message")
            }
            defer { try? input.close() }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            process.standardInput = input
            var environment = ProcessInfo.processInfo.environment
            environment["POSTOFFICE_UIDL"] = envelope.key.uniqueID
            environment["POSTOFFICE_KEY"] = envelope.key.hash
            process.environment = environment
            do {
                try process.run()
            } catch {
                throw FetchFailure(
                    kind: .localWrite,
                    message: "cannot run the delivery command: \(error)",
                    uniqueID: envelope.key.uniqueID
                )
            }
            process.waitUntilExit()
            guard process.terminationReason == .exit, process.terminationStatus == 0 else {
                let how =
                    process.terminationReason == .exit
                    ? "exited with status \(process.terminationStatus)"
                    : "was killed by signal \(process.terminationStatus)"
                throw FetchFailure(
                    kind: .localWrite,
                    message: "the delivery command \(how); the message stays on the server",
                    uniqueID: envelope.key.uniqueID
                )
            }
            return "mda"
        }

        func discard() {
            spool.remove()
        }
    }
}
