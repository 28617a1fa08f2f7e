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
/// the terminating `.CRLF` (but with a line end ``finish(into:)`` adds), which is how the
/// store computes `size` (DESIGN invariant 5).
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
    /// Message octets produced so far, CRLF-normalised, before stuffing. After ``finish(into:)``
    /// it includes the line end an unterminated last line is sent with, so it equals the size
    /// the store lists (`CRLFSizeCounter`).
    public private(set) var messageOctets = 0
    /// True once a TOP limit is reached: further input would be dropped.
    public private(set) var isComplete = false

    /// - Parameter bodyLineLimit: `nil` for the whole message (RETR), k for TOP n k.
    public init(bodyLineLimit: Int? = nil) {
        self.remainingBodyLines = bodyLineLimit.map { max(0, $0) }
    }

    /// Encodes one chunk of stored bytes into `output`.
    ///
    /// Runs of bytes without CR or LF are found eight bytes at a time
    /// (`LineBreakScanner`) and copied whole; only line ends and line starts are looked at
    /// one by one.
    public mutating func encode(_ input: ByteBuffer, into output: inout ByteBuffer) {
        guard !self.isComplete, !self.finished, input.readableBytes > 0 else { return }
        // Worst case: every byte doubles (a bare LF becomes CRLF, a dot at a line start is
        // stuffed, and no byte is both).
        let worstCase = input.readableBytes * 2
        input.withUnsafeReadableBytes { source in
            _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: worstCase) { target in
                // safe: both buffers hold at least one byte (checked above, reserved here).
                self.encode(source.baseAddress!, count: source.count, into: target.baseAddress!)
            }
        }
    }

    /// The encoding loop over raw bytes; `target` has room for `2 * count` bytes. Returns the
    /// number of bytes written.
    private mutating func encode(_ source: UnsafeRawPointer, count: Int, into target: UnsafeMutableRawPointer) -> Int {
        let lf = UInt8(ascii: "\n")
        let cr = UInt8(ascii: "\r")
        let dot = UInt8(ascii: ".")
        var input = 0
        var output = 0
        var octets = 0
        defer { self.messageOctets += octets }

        if self.sawCR {
            // The previous chunk ended in CR: a LF now completes a stored CRLF.
            self.sawCR = false
            if source.load(as: UInt8.self) == lf {
                target.storeBytes(of: lf, as: UInt8.self)
                input = 1
                output = 1
                octets = 1
                if self.lineEnded() { return output }
            }
        }
        while input < count {
            if self.atLineStart {
                self.atLineStart = false
                if source.load(fromByteOffset: input, as: UInt8.self) == dot {
                    // RFC 1939 §3: a line starting with "." gets one more; the dot itself is
                    // copied with the run below.
                    target.storeBytes(of: dot, toByteOffset: output, as: UInt8.self)
                    output &+= 1
                    self.lineIsBlank = false
                }
            }
            let lineBreak = LineBreakScanner.firstLineBreak(in: source, from: input, to: count)
            let run = lineBreak &- input
            if run > 0 {
                (target + output).copyMemory(from: source + input, byteCount: run)
                output &+= run
                octets &+= run
                input = lineBreak
                self.lineIsBlank = false
            }
            guard input < count else { break }
            if source.load(fromByteOffset: input, as: UInt8.self) == lf {
                // A bare LF (Maildir files use LF) goes out as CRLF.
                target.storeBytes(of: cr, toByteOffset: output, as: UInt8.self)
                target.storeBytes(of: lf, toByteOffset: output &+ 1, as: UInt8.self)
                output &+= 2
                octets &+= 2
                input &+= 1
                if self.lineEnded() { return output }
                continue
            }
            // A CR: the line ends here only if a LF follows.
            target.storeBytes(of: cr, toByteOffset: output, as: UInt8.self)
            output &+= 1
            octets &+= 1
            input &+= 1
            guard input < count else {
                self.sawCR = true
                break
            }
            if source.load(fromByteOffset: input, as: UInt8.self) == lf {
                target.storeBytes(of: lf, toByteOffset: output, as: UInt8.self)
                output &+= 1
                octets &+= 1
                input &+= 1
                if self.lineEnded() { return output }
            }
        }
        return output
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
        // The added line end is part of the message as sent, and of its listed size
        // (DESIGN.md invariant 5).
        if self.sawCR {
            output.writeStaticString("\n")
            self.messageOctets += 1
        } else if !self.atLineStart {
            output.writeStaticString("\r\n")
            self.messageOctets += 2
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
