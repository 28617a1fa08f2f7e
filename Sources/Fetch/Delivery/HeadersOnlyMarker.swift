// Recognises a stored copy that holds only the header (TOP n 0, RFC 1939 §7).

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Tells whether a stored copy carries our `X-PostOffice-Headers-Only: yes` trace line
/// (`TraceHeader`), so recovery does not take a headers-only copy for the whole message.
enum HeadersOnlyMarker {
    /// How much of the copy's start is read: the trace lines and, for mbox, the `From ` and
    /// `X-PostOffice-Key` lines come first and are short.
    static let window = 64 * 1024
    private static let marker = Array("X-PostOffice-Headers-Only: yes".utf8)

    /// Whether the copy at `offset` in the file at `path` is headers-only. Answers true when the
    /// file cannot be read: downloading again is safe, taking a header for the message is not.
    static func isHeadersOnly(path: String, offset: Int = 0) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: window)
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard count > 0 else { return true }
        return isHeadersOnly(prefix: bytes[0..<count])
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
