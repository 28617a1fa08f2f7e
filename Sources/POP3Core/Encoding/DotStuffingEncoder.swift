// POP3Core: multi-line body encoding for RETR and TOP (RFC 1939 §3, §7).
public import struct NIOCore.ByteBuffer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

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
    /// Each line end is found with `memchr` (vectorised in the C library) and the line up to it
    /// copied whole. Only LF ends a line: a CR is looked at only when it stands right before a
    /// LF (a stored CRLF, kept as is) or at the end of the chunk (the next chunk may start with
    /// its LF); any other CR passes through like any other byte.
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
        // Only TOP asks whether a line is blank (the end of the header).
        let tracksBlankLines = self.remainingBodyLines != nil
        var input = 0
        var output = 0
        var octets = 0
        defer { self.messageOctets += octets }

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
            let lineFeed =
                memchr(source + input, Int32(lf), count &- input).map { UnsafeRawPointer($0) - source } ?? count
            let run = lineFeed &- input
            if run > 0 {
                (target + output).copyMemory(from: source + input, byteCount: run)
                output &+= run
                octets &+= run
                if tracksBlankLines && self.lineIsBlank {
                    // A line of CRs alone counts as blank, as when CRs were line-break candidates.
                    self.lineIsBlank = !UnsafeRawBufferPointer(start: source + input, count: run).contains { $0 != cr }
                }
            }
            guard lineFeed < count else {
                // No line end in the rest of the chunk: a CR at its end may pair with a LF at the
                // start of the next one.
                self.sawCR = source.load(fromByteOffset: count &- 1, as: UInt8.self) == cr
                break
            }
            let storedCRLF = run > 0 ? source.load(fromByteOffset: lineFeed &- 1, as: UInt8.self) == cr : self.sawCR
            self.sawCR = false
            if storedCRLF {
                // A stored CRLF is kept, never doubled; its CR went out with the run.
                target.storeBytes(of: lf, toByteOffset: output, as: UInt8.self)
                output &+= 1
                octets &+= 1
            } else {
                // A bare LF (Maildir files use LF) goes out as CRLF.
                target.storeBytes(of: cr, toByteOffset: output, as: UInt8.self)
                target.storeBytes(of: lf, toByteOffset: output &+ 1, as: UInt8.self)
                output &+= 2
                octets &+= 2
            }
            input = lineFeed &+ 1
            if self.lineEnded() { return output }
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
