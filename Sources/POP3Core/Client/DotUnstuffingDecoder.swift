// The client half of POP3 byte-stuffing: removes the stuffed dots from a multi-line
// response body and finds its terminating ".CRLF" (RFC 1939 §3), whatever the chunk
// boundaries are.

public import struct NIOCore.ByteBuffer

/// Removes dot-stuffing from a multi-line response body, chunk by chunk.
///
/// RFC 1939 §3: a line of a multi-line response that begins with the termination octet
/// (".") has had a "." prepended; the body ends with a line holding only ".". The decoder
/// carries its state across calls, so input may arrive split at any byte.
///
/// Lines end at CRLF. A bare LF or a bare CR is content and does not start a new line; NUL
/// and 8-bit bytes pass through unchanged. The decoder buffers nothing but its state: every
/// content byte it has seen is written out by the call that saw it, except a CR directly
/// after a line-leading dot, which is held until the next byte says whether it ends the body.
///
/// - SeeAlso: [RFC 1939 §3](https://datatracker.ietf.org/doc/html/rfc1939#section-3)
public struct DotUnstuffingDecoder: Hashable, Sendable {
    enum State: Hashable, Sendable {
        /// At the start of a line (the body's first byte, or after CRLF).
        case lineStart
        /// Inside a line.
        case midLine
        /// Just after a content CR.
        case sawCR
        /// A "." at the start of a line was read (and dropped).
        case sawLeadingDot
        /// ".CR" at the start of a line: the CR is held back.
        case sawLeadingDotCR
        /// The terminating ".CRLF" was read.
        case finished
    }

    private(set) var state: State = .lineStart

    /// Whether the terminating line has been read.
    public var isFinished: Bool { self.state == .finished }

    public init() {}

    /// Decodes as much of `input` as possible into `output`.
    ///
    /// Reads from `input` up to and including the terminating ".CRLF", never past it, so bytes
    /// of the next response stay in `input`. Everything read is either written to `output`
    /// (unstuffed) or remembered in the decoder's state.
    ///
    /// - Returns: `true` once the terminating line has been read.
    @discardableResult
    public mutating func decode(_ input: inout ByteBuffer, into output: inout ByteBuffer) -> Bool {
        if self.state == .finished { return true }
        var state = self.state
        let consumed: Int = input.withUnsafeReadableBytes { bytes in
            var index = 0
            // Start of the current run of bytes that are copied unchanged.
            var runStart = 0
            let count = bytes.count
            func flushRun(upTo end: Int) {
                if end > runStart {
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<end]))
                }
            }
            while index < count {
                let byte = bytes[index]
                switch state {
                case .midLine:
                    // Fast path: content up to the next CR is copied as it is.
                    if byte == UInt8(ascii: "\r") { state = .sawCR }
                    index += 1
                case .sawCR:
                    if byte == UInt8(ascii: "\n") {
                        state = .lineStart
                    } else if byte != UInt8(ascii: "\r") {
                        state = .midLine
                    }
                    index += 1
                case .lineStart:
                    if byte == UInt8(ascii: ".") {
                        flushRun(upTo: index)
                        index += 1
                        runStart = index
                        state = .sawLeadingDot
                    } else {
                        state = byte == UInt8(ascii: "\r") ? .sawCR : .midLine
                        index += 1
                    }
                case .sawLeadingDot:
                    if byte == UInt8(ascii: "\r") {
                        // Maybe the terminator: hold the CR back until the next byte is known.
                        flushRun(upTo: index)
                        index += 1
                        runStart = index
                        state = .sawLeadingDotCR
                    } else {
                        // A stuffed line: the dot is gone, this byte is content. A second dot
                        // is content too, as is a bare LF (which does not start a line).
                        state = .midLine
                        index += 1
                    }
                case .sawLeadingDotCR:
                    if byte == UInt8(ascii: "\n") {
                        index += 1
                        runStart = index
                        state = .finished
                        return index
                    }
                    // ".CR" followed by something else: the dot was stuffing and the CR content.
                    output.writeInteger(UInt8(ascii: "\r"))
                    state = .sawCR
                case .finished:
                    preconditionFailure("decoder ran past the terminator")
                }
            }
            flushRun(upTo: index)
            return index
        }
        input.moveReaderIndex(forwardBy: consumed)
        self.state = state
        return state == .finished
    }

    /// Starts over for the next body.
    public mutating func reset() {
        self.state = .lineStart
    }
}
