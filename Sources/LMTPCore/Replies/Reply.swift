// LMTPCore: server replies and their wire form (RFC 5321 §4.2, RFC 2034 §3).
public import struct NIOCore.ByteBuffer

/// One server reply: a three-digit code, an enhanced status code where RFC 2034 asks for one,
/// and one or more lines of text.
///
/// - SeeAlso: [RFC 5321 §4.2](https://datatracker.ietf.org/doc/html/rfc5321#section-4.2)
public struct Reply: Hashable, Sendable, CustomStringConvertible {
    /// The reply code, 200–599 (RFC 5321 §4.2.1).
    public var code: Int
    /// Prefixed to every line (RFC 2034 §3); nil for the greeting, LHLO and 354.
    public var status: EnhancedStatusCode?
    /// At least one line; none contains CR or LF.
    public var lines: [String]

    public init(_ code: Int, _ status: EnhancedStatusCode?, _ text: String) {
        self.init(code, status, lines: [text])
    }

    public init(_ code: Int, _ status: EnhancedStatusCode?, lines: [String]) {
        precondition((200...599).contains(code), "reply codes are three digits, 2xx to 5xx")
        precondition(!lines.isEmpty, "a reply has at least one line")
        self.code = code
        self.status = status
        self.lines = lines
    }

    /// Positive completion (2xx, RFC 5321 §4.2.1).
    public var isPositive: Bool { (200...299).contains(code) }

    /// The reply as sent, with CRLF line ends.
    public var description: String {
        var buffer = ByteBuffer()
        buffer.writeLMTPReply(self)
        return String(buffer: buffer)
    }
}

extension ByteBuffer {
    /// Writes `reply` as RFC 5321 §4.2.1 multiline text: `code-text` for every line but the
    /// last, `code text` for the last, each with the enhanced status code after the code.
    /// CR and LF in the text (which no caller should pass) are written as spaces, so a reply
    /// can never be split into two.
    @discardableResult
    public mutating func writeLMTPReply(_ reply: Reply) -> Int {
        var written = 0
        for (index, line) in reply.lines.enumerated() {
            written += self.writeString(String(reply.code))
            written += self.writeInteger(index == reply.lines.count - 1 ? UInt8(ascii: " ") : UInt8(ascii: "-"))
            if let status = reply.status {
                written += self.writeString(status.description)
                written += self.writeInteger(UInt8(ascii: " "))
            }
            for byte in line.utf8 {
                written += self.writeInteger(byte == 0x0D || byte == 0x0A ? UInt8(ascii: " ") : byte)
            }
            written += self.writeInteger(UInt8(ascii: "\r"))
            written += self.writeInteger(UInt8(ascii: "\n"))
        }
        return written
    }
}
