// POP3Core: multi-line listings (CAPA, LIST, UIDL), encoded straight into bytes (RFC 1939 §3).
import MailCore

public import struct NIOCore.ByteBuffer

/// The body of a multi-line listing: what CAPA, LIST and UIDL send after their status line.
///
/// A listing refers to the session's snapshot instead of holding one `String` per line, so
/// LIST or UIDL of a 100,000-message maildrop costs no per-message allocation;
/// ``ListingEncoder`` writes it into a `ByteBuffer` in bounded pieces.
public struct Listing: Hashable, Sendable {
    /// What the lines say.
    public enum Content: Hashable, Sendable {
        /// CAPA (RFC 2449 §5): one capability per line.
        case capabilities([Capability])
        /// LIST (RFC 1939 §5): `n size` for every message not marked as deleted.
        case sizes
        /// UIDL (RFC 1939 §7): `n unique-id` for every message not marked as deleted.
        case uniqueIDs
    }

    public var content: Content
    /// The snapshot that ``Content/sizes`` and ``Content/uniqueIDs`` list.
    public var messages: [ServerSession.MessageInfo]
    /// Deletion marks, one per message (absent means none is marked).
    public var deleted: [Bool]

    /// A listing of `messages`, skipping those marked in `deleted`.
    public init(_ content: Content, messages: [ServerSession.MessageInfo] = [], deleted: [Bool] = []) {
        self.content = content
        self.messages = messages
        self.deleted = deleted
    }

    /// The lines as a client reads them, without stuffing or CRLF (tests and diagnostics).
    public var lines: [String] {
        var encoder = ListingEncoder(self)
        var buffer = ByteBuffer()
        while !encoder.isFinished { encoder.encode(into: &buffer, atLeast: 1 << 16) }
        var lines = String(buffer: buffer).split(separator: "\r\n", omittingEmptySubsequences: false).map {
            $0.hasPrefix(".") ? String($0.dropFirst()) : String($0)
        }
        // The terminator and the empty string after its CRLF.
        lines.removeLast(2)
        return lines
    }
}

/// Writes a ``Listing`` and its `.CRLF` terminator into byte buffers, a piece at a time, so a
/// large listing goes out as the peer reads it.
public struct ListingEncoder: Sendable {
    private let listing: Listing
    /// The next capability or message index to write.
    private var next = 0
    /// True once the terminator is written.
    public private(set) var isFinished = false

    public init(_ listing: Listing) {
        self.listing = listing
    }

    /// Writes whole lines until at least `minimumBytes` were written or the listing ends, in
    /// which case the terminating `.CRLF` follows (RFC 1939 §3).
    public mutating func encode(into buffer: inout ByteBuffer, atLeast minimumBytes: Int) {
        guard !self.isFinished else { return }
        let stop = buffer.writerIndex + minimumBytes
        switch self.listing.content {
        case .capabilities(let capabilities):
            while self.next < capabilities.count, buffer.writerIndex < stop {
                let line = capabilities[self.next].description
                // A line starting with "." is stuffed (RFC 1939 §3); no tag does, but the
                // encoder does not rely on it.
                if line.utf8.first == UInt8(ascii: ".") { buffer.writeStaticString(".") }
                buffer.writeString(line)
                buffer.writeStaticString("\r\n")
                self.next += 1
            }
            if self.next == capabilities.count { self.finish(&buffer) }
        case .sizes, .uniqueIDs:
            let messages = self.listing.messages
            let deleted = self.listing.deleted
            let sizes = self.listing.content == .sizes
            while self.next < messages.count, buffer.writerIndex < stop {
                defer { self.next += 1 }
                if self.next < deleted.count, deleted[self.next] { continue }
                // `n size` or `n unique-id`: digits first, so never stuffed.
                buffer.writeDecimal(self.next + 1)
                buffer.writeStaticString(" ")
                if sizes {
                    buffer.writeDecimal(messages[self.next].size)
                } else {
                    buffer.writeString(messages[self.next].uniqueID.rawValue)
                }
                buffer.writeStaticString("\r\n")
            }
            if self.next == messages.count { self.finish(&buffer) }
        }
    }

    private mutating func finish(_ buffer: inout ByteBuffer) {
        buffer.writeStaticString(".\r\n")
        self.isFinished = true
    }
}

extension ByteBuffer {
    /// Writes `value` in decimal ASCII digits, `-` first when negative; no `String` is made.
    @discardableResult
    public mutating func writeDecimal(_ value: Int) -> Int {
        if value < 0 {
            // Int.min has no positive counterpart; take the digits from its magnitude.
            return self.writeStaticString("-") + self.writeDecimalMagnitude(value.magnitude)
        }
        return self.writeDecimalMagnitude(UInt(value))
    }

    private mutating func writeDecimalMagnitude(_ value: UInt) -> Int {
        // 20 digits hold UInt64.max.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &digits) { scratch in
            var remaining = value
            var start = scratch.count
            repeat {
                start -= 1
                scratch[start] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining > 0
            return self.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[start...]))
        }
    }
}
