// Recognises a stored copy that holds only the header (TOP n 0, RFC 1939 §7).
import FileIO
import SystemPackage

/// Tells whether a stored copy carries our `X-PostOffice-Headers-Only: yes` trace line
/// (`TraceHeader`), so recovery does not take a headers-only copy for the whole message.
enum HeadersOnlyMarker {
    /// How much of the copy's start is read: the trace lines and, for mbox, the `From ` and
    /// `X-PostOffice-Key` lines come first and are short.
    static let window = 64 * 1024
    private static let marker = Array("X-PostOffice-Headers-Only: yes".utf8)

    /// Whether the copy in the file at `path` is headers-only. Answers true when the file cannot
    /// be read: downloading again is safe, taking a header for the message is not.
    static func isHeadersOnly(path: String) -> Bool {
        guard let file = try? File.open(FilePath(path), .readOnly) else { return true }
        defer { file.closeQuietly() }
        guard let bytes = try? file.read(count: window, at: 0), !bytes.isEmpty else { return true }
        return isHeadersOnly(prefix: bytes[...])
    }

    /// Looks at the leading trace lines only (mbox `From `, `X-PostOffice-Key`, `Received`,
    /// `X-PostOffice-UIDL`, then the marker): the message's own header cannot turn a full copy
    /// into a "complete" one, and at worst makes us download a full copy again.
    static func isHeadersOnly(prefix: ArraySlice<UInt8>) -> Bool {
        var lines = prefix.split(separator: 10, maxSplits: 6, omittingEmptySubsequences: false).makeIterator()
        while let line = lines.next() {
            if line.starts(with: marker) { return true }
            let isTrace =
                line.starts(with: Array("From ".utf8)) || line.starts(with: Array("X-PostOffice-Key: ".utf8))
                || line.starts(with: Array("Received: from ".utf8))
                || line.starts(with: Array("X-PostOffice-UIDL: ".utf8))
            if !isTrace { return false }
        }
        return false
    }
}
