// The MDA target's spool: MailStore's message writer, and how delivery errors become fetch
// failures.
import FileIO
import MailStore
import NIOCore
import SystemPackage

/// A temporary file written in bounded memory and made durable with fsync (MailStore's
/// `MessageFileWriter`): the message on its way to an MDA command.
final class SpoolFile {
    let path: String
    private let writer: MessageFileWriter

    /// Creates (truncating) `path`. A leftover of an earlier crashed attempt is overwritten.
    init(path: String, quoteFromLines: Bool) throws {
        self.path = path
        writer = try localWrite { try MessageFileWriter(path: FilePath(path), quoteFromLines: quoteFromLines) }
    }

    /// Writes bytes verbatim (trace headers).
    func writeRaw(_ bytes: [UInt8]) throws {
        try localWrite { try writer.writeRaw(bytes) }
    }

    /// Writes message bytes through the local-text transform.
    func writeMessage(_ chunk: ByteBuffer) throws {
        try localWrite { try writer.writeMessage(chunk) }
    }

    /// Ends the message content; returns whether it ended with a newline.
    @discardableResult
    func finishMessage() throws -> Bool {
        try localWrite { try writer.finishMessage() }
    }

    /// Writes everything buffered, then fsyncs the file.
    func sync() throws {
        try localWrite { try writer.sync() }
    }

    func closeFile() {
        try? writer.close()
    }

    func remove() {
        writer.remove()
    }
}

/// Runs a storing step, reporting any failure as a `localWrite` fetch failure (the file-system
/// error names the operation, the path and the reason).
func localWrite<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let failure as FetchFailure {
        throw failure
    } catch {
        throw FetchFailure(kind: .localWrite, message: "\(error)")
    }
}
