import FileIO
import MailStore
import SystemPackage

/// How `export` treats an existing output file.
public enum ExportMode: Sendable {
    /// Fail when the file exists.
    case create
    /// Replace it (atomically: the old file stays until the new one is complete).
    case overwrite
    /// Add to its end (under the mbox locks, as a mail delivery agent appends).
    case append
}

extension OfflineMailbox {
    /// Writes the messages matching `query` (all when nil), oldest first, as mboxrd to
    /// `path` (`-` for standard output). Returns how many were written.
    ///
    /// A new or replaced file is written beside the target and renamed over it when complete
    /// (MailStore's atomic replace); `.append` appends through MailStore's `MboxFile`, under its
    /// locks, undoing a partial append on failure.
    @discardableResult
    public func exportMbox(query: SearchQuery?, folder: String? = nil, to path: String, mode: ExportMode) throws -> Int
    {
        let messages = try search(query ?? SearchQuery(terms: []), folder: folder).reversed()
        var count = 0
        let writeEntries: (File) throws -> Void = { file in
            for summary in messages {
                try file.write(try self.mboxEntry(summary))
                count += 1
            }
        }
        if path == "-" {
            try writeEntries(File.standardOutput)
            return count
        }
        let target = FilePath(path)
        switch mode {
        case .create:
            if try FileSystem.status(target) != nil { throw MailboxError.outputExists(path) }
            try FileSystem.replaceAtomically(target, write: writeEntries)
        case .overwrite:
            try FileSystem.replaceAtomically(target, write: writeEntries)
        case .append:
            _ = try MboxFile(path: target).append(writeEntries)
        }
        return count
    }

    /// One mboxrd entry: the `From ` line (sender from Return-Path, else From), the quoted
    /// message, and the empty line that ends it.
    private func mboxEntry(_ summary: MessageSummary) throws -> [UInt8] {
        let raw = try rawMessage(summary)
        let message = MessageParser.parse(raw)
        var sender = ""
        if let returnPath = message.header.first("Return-Path") {
            sender = Address.parseList(returnPath.rawValue).first?.address ?? ""
        }
        if sender.isEmpty { sender = message.from.first?.address ?? "" }
        var entry = Array(Mbox.fromLine(sender: sender, date: summary.date).utf8)
        entry.append(Byte.lf)
        entry.append(contentsOf: Mbox.quote(raw))
        if entry.last != Byte.lf { entry.append(Byte.lf) }
        entry.append(Byte.lf)
        return entry
    }
}
