// POP3Core: multi-line body encoding for RETR and TOP (RFC 1939 §3, §7).
public import struct NIOCore.ByteBuffer

/// Turns stored message bytes into a POP3 multi-line body, one chunk at a time.
///
/// - Bare LF becomes CRLF (Maildir files use LF); a stored CRLF is kept, never doubled; a
///   CR not followed by LF is passed through.
/// - A line starting with `.` gets one more `.` (RFC 1939 §3 byte-stuffing).
/// - 8-bit and NUL bytes pass unchanged.
/// - ``finish(into:)`` adds CRLF when the last line has none, then `.CRLF`.
///
/// State lives across chunks, so any split of the input gives the same output.
/// ``messageOctets`` counts the octets of the message as sent before stuffing and without
/// the termination, which is how the store computes `size` (DESIGN invariant 5).
///
/// With `bodyLineLimit` set (TOP n k, RFC 1939 §7) only the header, the blank line and the
/// first k body lines are sent; ``isComplete`` then turns true and further input is ignored.
public struct DotStuffingEncoder: Hashable, Sendable {
    private var atLineStart = true
    private var sawCR = false
    private var lineIsBlank = true
    private var inHeader = true
    private var remainingBodyLines: Int?
    private var finished = false
    /// Message octets produced so far, CRLF-normalised, before stuffing.
    public private(set) var messageOctets = 0
    /// True once a TOP limit is reached: further input would be dropped.
    public private(set) var isComplete = false

    /// - Parameter bodyLineLimit: `nil` for the whole message (RETR), k for TOP n k.
    public init(bodyLineLimit: Int? = nil) {
        self.remainingBodyLines = bodyLineLimit.map { max(0, $0) }
    }

    /// Encodes one chunk of stored bytes into `output`.
    public mutating func encode(_ input: ByteBuffer, into output: inout ByteBuffer) {
        guard !self.isComplete, !self.finished else { return }
        output.reserveCapacity(minimumWritableBytes: input.readableBytes + input.readableBytes / 16 + 8)
        input.withUnsafeReadableBytes { raw in
            var runStart = 0
            var index = 0
            func flush(upTo end: Int) {
                if end > runStart {
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: raw[runStart..<end]))
                    self.messageOctets += end - runStart
                }
                runStart = end
            }
            while index < raw.count {
                let byte = raw[index]
                if self.sawCR {
                    self.sawCR = false
                    if byte == UInt8(ascii: "\n") {
                        index += 1
                        if self.lineEnded() {
                            flush(upTo: index)
                            return
                        }
                        continue
                    }
                }
                switch byte {
                case UInt8(ascii: "\n"):
                    flush(upTo: index)
                    output.writeStaticString("\r\n")
                    self.messageOctets += 2
                    index += 1
                    runStart = index
                    if self.lineEnded() { return }
                    continue
                case UInt8(ascii: "\r"):
                    self.sawCR = true
                    self.atLineStart = false
                case UInt8(ascii: ".") where self.atLineStart:
                    flush(upTo: index)
                    output.writeStaticString(".")
                    self.atLineStart = false
                    self.lineIsBlank = false
                default:
                    self.atLineStart = false
                    self.lineIsBlank = false
                }
                index += 1
            }
            flush(upTo: raw.count)
        }
    }

    /// Notes the end of a line; returns true when a TOP limit has just been reached.
    private mutating func lineEnded() -> Bool {
        let wasBlank = self.lineIsBlank
        self.atLineStart = true
        self.lineIsBlank = true
        guard let remaining = self.remainingBodyLines else { return false }
        if self.inHeader {
            if wasBlank {
                self.inHeader = false
                if remaining == 0 { self.isComplete = true }
            }
        } else {
            self.remainingBodyLines = remaining - 1
            if remaining - 1 <= 0 { self.isComplete = true }
        }
        return self.isComplete
    }

    /// Ends the body: CRLF if the last line is unterminated (completing a trailing CR), then
    /// the terminating `.CRLF`. Call once.
    public mutating func finish(into output: inout ByteBuffer) {
        guard !self.finished else { return }
        self.finished = true
        if self.sawCR {
            output.writeStaticString("\n")
        } else if !self.atLineStart {
            output.writeStaticString("\r\n")
        }
        output.writeStaticString(".\r\n")
    }

    /// Encodes a whole body in one go (tests and small listings).
    public static func encode(_ body: ByteBuffer, bodyLineLimit: Int? = nil) -> ByteBuffer {
        var encoder = DotStuffingEncoder(bodyLineLimit: bodyLineLimit)
        var output = ByteBuffer()
        encoder.encode(body, into: &output)
        encoder.finish(into: &output)
        return output
    }
}
