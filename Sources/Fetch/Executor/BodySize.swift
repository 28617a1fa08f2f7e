// Checks of a received body against the size the server announced in LIST (RFC 1939 §5).

/// What the octet count of a received message says about the server's `LIST` size.
///
/// RFC 1939 §5 defines the `LIST` size as the exact size of the message (CRLF line ends);
/// real servers report it exactly or a few octets off (some count dot-stuffing, some a
/// stored form). The client counts the octets it received (CRLF line ends, dot-stuffing
/// removed).
enum BodySize {
    /// Whether a body of `received` octets is clearly shorter than the `listed` size: more than
    /// 1024 octets short, or below 90 % of it. Either way the server most likely cut the message
    /// short while still ending it with `.CRLF`; the copy is stored but the server's copy is not
    /// deleted in this session. Near-exact sizes are not flagged.
    static func isClearlyShort(received: Int, listed: Int) -> Bool {
        guard listed > received else { return false }
        let shortfall = listed - received
        return shortfall > 1024 || received < listed - listed / 10
    }

    /// The most octets accepted for a message listed at `listed` octets: twice the listed size
    /// plus 64 KiB, and never less than 1 MiB. A server streaming more is broken or hostile
    /// (a body that never ends); the transfer is aborted as a protocol violation.
    static func maximum(listed: Int) -> Int {
        let (doubled, overflow) = max(listed, 0).multipliedReportingOverflow(by: 2)
        guard !overflow else { return Int.max }
        let (slack, overflow2) = doubled.addingReportingOverflow(64 * 1024)
        return overflow2 ? Int.max : max(slack, 1024 * 1024)
    }

    /// The failure for a body beyond `maximum(listed:)`: the session ends without `QUIT`, so
    /// the server deletes nothing, and the partial copy is discarded.
    static func oversized(_ download: FetchPlan.Download) -> FetchFailure {
        FetchFailure(
            kind: .network,
            message: "protocol violation: message \(download.number) sent more than "
                + "\(maximum(listed: download.size)) octets, the server listed \(download.size)",
            uniqueID: download.uniqueID
        )
    }
}
