// Delivery through a command (procmail, maildrop, dovecot-lda…): message on standard input.
import FileIO
import Foundation
import MailCore
import NIOCore

/// Runs `/bin/sh -c COMMAND` per message with the message (LF line ends, trace header on top)
/// on standard input. Exit status 0 means delivered; anything else means not delivered, so the
/// message is not recorded and not deleted on the server, and the run reports it.
///
/// Idempotence: a command cannot be asked whether it already has a message. So the state
/// records the hand-over before the command runs (`FetchStateStore.recordHandOver`), and the
/// outcome after it. A run killed in between (after the command accepted the message, before
/// the record) leaves the hand-over: the next run delivers the message again, with
/// `POSTOFFICE_POSSIBLE_DUPLICATE=1` in the environment, and reports it. That is at most one
/// duplicate per interrupted run, never a loss; every delivery carries the same
/// `X-PostOffice-UIDL` header (and `POSTOFFICE_UIDL`, `POSTOFFICE_KEY` in the environment), so the
/// command can drop a duplicate (e.g. `formail -D` on Message-ID, or a check of the UIDL).
final class MDADeliverer: Deliverer {
    let command: String
    let spoolDirectory: String

    init(command: String, spoolDirectory: String) {
        self.command = command
        self.spoolDirectory = spoolDirectory
    }

    /// A command: nothing to look through or replace; its acceptance is final and unverifiable,
    /// and one refusal says nothing about the next message.
    var capabilities: DeliveryCapabilities {
        DeliveryCapabilities(
            findsEarlierCopies: false,
            tellsWhetherCopiesRemain: false,
            replacesCopies: false,
            recordsHandOver: true,
            failuresArePerMessage: true
        )
    }

    func existingLocation(of key: DeliveryKey) throws -> String? { nil }

    func presentKeys() throws -> Set<String> { [] }

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
            var environment = ProcessInfo.processInfo.environment
            environment["POSTOFFICE_UIDL"] = envelope.key.uniqueID.rawValue
            environment["POSTOFFICE_KEY"] = envelope.key.hash
            environment["POSTOFFICE_POSSIBLE_DUPLICATE"] = envelope.mayDuplicate ? "1" : nil
            let result: ChildProcess.Result
            do {
                result = try ChildProcess.shell(command, environment: environment).run(input: .file(path: spool.path))
            } catch {
                throw FetchFailure(
                    kind: .localWrite,
                    message: "cannot run the delivery command: \(error)",
                    uniqueID: envelope.key.uniqueID
                )
            }
            guard result.termination.succeeded else {
                throw FetchFailure(
                    kind: .localWrite,
                    message: "the delivery command \(result.termination); the message stays on the server",
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
