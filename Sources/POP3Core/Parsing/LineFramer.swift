// POP3Core: line framing, separate from the grammar (GUIDE B4).
public import struct NIOCore.ByteBuffer

/// Splits input into lines at LF (CRLF, or a bare LF, RFC 1939 §3 asks for CRLF but we are
/// liberal on input), enforcing a maximum line length before any grammar sees the bytes.
///
/// A line longer than the limit is reported once as ``Frame/overlong(_:)`` as soon as the
/// limit is passed, and its remaining bytes are dropped up to and including the next LF,
/// so buffering stays bounded whatever the peer sends.
///
/// Between calls the caller only appends to the buffer (and may discard read bytes): the
/// framer remembers how far it has searched a partial line, so a line trickled in one byte
/// at a time costs linear, not quadratic, time.
public struct LineFramer: Hashable, Sendable {
    /// One framed unit.
    public enum Frame: Hashable, Sendable {
        /// A complete line without its CRLF or LF.
        case line(ByteBuffer)
        /// A line that passed the limit; the rest of it is being discarded.
        case overlong(ExceededLineLengthLimit)
    }

    /// The longest line accepted, line ending included.
    public var maximumLineLength: Int
    /// True while the rest of an overlong line is being dropped.
    public private(set) var isDiscarding = false
    /// Bytes of the partial line at the front of the buffer already searched for LF.
    private var searchedBytes = 0

    public init(maximumLineLength: Int) {
        precondition(maximumLineLength >= 3, "a line needs room for at least one byte and CRLF")
        self.maximumLineLength = maximumLineLength
    }

    /// The next frame, or `nil` when more bytes are needed. On `nil` the buffer is untouched,
    /// except that bytes of an overlong line being discarded are dropped.
    public mutating func next(buffer: inout ByteBuffer) -> Frame? {
        while self.isDiscarding {
            guard let lf = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                return nil
            }
            buffer.moveReaderIndex(to: lf + 1)
            self.isDiscarding = false
        }
        let view = buffer.readableBytesView
        let searchEnd = view.startIndex + min(view.count, self.maximumLineLength)
        let searchStart = view.startIndex + min(self.searchedBytes, searchEnd - view.startIndex)
        guard let lf = view[searchStart..<searchEnd].firstIndex(of: UInt8(ascii: "\n")) else {
            if view.count >= self.maximumLineLength {
                // When the overlong line's LF is already buffered, drop the line up to it and
                // no further: the lines after it are the peer's next commands.
                if let end = view[searchEnd...].firstIndex(of: UInt8(ascii: "\n")) {
                    buffer.moveReaderIndex(to: end + 1)
                    self.searchedBytes = 0
                    return .overlong(
                        ExceededLineLengthLimit(actual: end + 1 - view.startIndex, maximum: self.maximumLineLength)
                    )
                }
                let seen = view.count
                buffer.moveReaderIndex(forwardBy: seen)
                self.isDiscarding = true
                self.searchedBytes = 0
                return .overlong(ExceededLineLengthLimit(actual: seen, maximum: self.maximumLineLength))
            }
            self.searchedBytes = searchEnd - view.startIndex
            return nil
        }
        self.searchedBytes = 0
        var contentEnd = lf
        if contentEnd > view.startIndex, view[contentEnd - 1] == UInt8(ascii: "\r") {
            contentEnd -= 1
        }
        // safe: the range lies inside the readable bytes just searched.
        let line = buffer.getSlice(at: view.startIndex, length: contentEnd - view.startIndex)!
        buffer.moveReaderIndex(to: lf + 1)
        return .line(line)
    }
}
