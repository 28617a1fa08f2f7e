// A message as POP3 sends it (RFC 1939 §3): every line end CRLF, the last line terminated.
public import NIOCore

/// Turns stored or delivered bytes into the octets RETR sends before dot-stuffing, one piece at
/// a time: a bare LF becomes CRLF, a CRLF stays, a lone CR passes through, and ``finish(into:)``
/// ends an unterminated last line (a trailing CR gets its LF, any other byte CRLF).
///
/// This is the rule `CRLFSizeCounter` counts and the server's encoder applies, so a message kept
/// in this form has exactly its POP3 size and is sent unchanged; the PostgreSQL store keeps
/// messages this way (invariant 5 of DESIGN.md without work at RETR time). State lives across
/// pieces: any split of the input gives the same output.
public struct WireForm: Sendable, Hashable {
    private var lastByte: UInt8?

    public init() {}

    /// Appends the wire form of `input` to `output`.
    public mutating func convert(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        guard !input.isEmpty else { return }
        output.reserveCapacity(minimumWritableBytes: input.count + input.count / 32 + 2)
        var runStart = 0
        var previous = self.lastByte
        for index in 0..<input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "\n"), previous != UInt8(ascii: "\r") {
                if index > runStart {
                    output.writeBytes(UnsafeRawBufferPointer(rebasing: input[runStart..<index]))
                }
                output.writeStaticString("\r")
                runStart = index
            }
            previous = byte
        }
        output.writeBytes(UnsafeRawBufferPointer(rebasing: input[runStart...]))
        self.lastByte = previous
    }

    /// Appends the wire form of `input` to `output`.
    public mutating func convert(_ input: some Collection<UInt8>, into output: inout ByteBuffer) {
        let done: Void? = input.withContiguousStorageIfAvailable {
            self.convert(UnsafeRawBufferPointer($0), into: &output)
        }
        if done == nil {
            Array(input).withUnsafeBytes { self.convert($0, into: &output) }
        }
    }

    /// Terminates an unterminated last line. Call once, after the last piece.
    public mutating func finish(into output: inout ByteBuffer) {
        switch self.lastByte {
        case nil, UInt8(ascii: "\n"):
            break
        case UInt8(ascii: "\r"):
            output.writeStaticString("\n")
        default:
            output.writeStaticString("\r\n")
        }
        self.lastByte = UInt8(ascii: "\n")
    }

    /// The wire form of a whole message.
    public static func of(_ message: some Collection<UInt8>) -> ByteBuffer {
        var form = WireForm()
        var output = ByteBuffer()
        form.convert(message, into: &output)
        form.finish(into: &output)
        return output
    }
}
