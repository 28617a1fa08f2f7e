// The server's listing of a session: LIST and UIDL, or header digests without UIDL.
import MailCore
import NIOCore
import POP3Client

/// Reads what the server holds (RFC 1939 §5 `LIST`, §7 `UIDL`).
enum SessionListing {
    /// The listed messages with their unique ids; messages without an id are left out, with a
    /// warning each in `report`.
    static func read(_ source: any MailSource, into report: inout AccountReport) async throws -> [ServerMessage] {
        let list = try await source.list()
        var ids: [Int: UniqueID] = [:]
        if let uidl = try await source.uidl() {
            for entry in uidl { ids[entry.number] = entry.uniqueID }
        } else {
            report.warnings.append(
                "the server does not support UIDL: messages are identified by a digest of their header"
            )
            var digests: [UniqueID] = []
            for entry in list {
                var accumulator = HeaderDigest.Accumulator()
                try await source.top(entry.number, lines: 0) { event in
                    if case .bytes(let buffer) = event {
                        accumulator.add(buffer.readableBytesView)
                    }
                }
                digests.append(accumulator.uniqueID(size: entry.size))
            }
            for (entry, id) in zip(list, HeaderDigest.disambiguate(digests)) {
                ids[entry.number] = id
            }
        }
        var messages: [ServerMessage] = []
        for entry in list {
            guard let id = ids[entry.number] else {
                report.warnings.append("message \(entry.number) has no unique id; it is left on the server")
                report.skipped += 1
                continue
            }
            messages.append(ServerMessage(number: entry.number, uniqueID: id, size: entry.size))
        }
        return messages
    }
}
