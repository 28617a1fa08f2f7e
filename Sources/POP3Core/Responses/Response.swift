// POP3Core: single-line responses (RFC 1939 §3, RFC 2449 §3).
public import struct NIOCore.ByteBuffer

/// A status line: `+OK` or `-ERR`, an optional response code and text.
///
/// ```
/// S: -ERR [IN-USE] maildrop already locked
/// ```
/// - SeeAlso: [RFC 2449 §3](https://datatracker.ietf.org/doc/html/rfc2449#section-3)
public struct Response: Hashable, Sendable, CustomStringConvertible {
    /// `+OK` or `-ERR` (RFC 1939 §3).
    public enum Status: Hashable, Sendable {
        case ok
        case err
    }

    public var status: Status
    public var code: ResponseCode?
    /// Free text. Never a secret: responses are logged.
    public var text: String

    public init(status: Status, code: ResponseCode? = nil, text: String) {
        self.status = status
        self.code = code
        self.text = text
    }

    /// `+OK text`.
    public static func ok(_ text: String, code: ResponseCode? = nil) -> Response {
        Response(status: .ok, code: code, text: text)
    }

    /// `-ERR text`.
    public static func err(_ text: String, code: ResponseCode? = nil) -> Response {
        Response(status: .err, code: code, text: text)
    }

    /// The line as sent, without CRLF.
    public var description: String {
        var line = status == .ok ? "+OK" : "-ERR"
        if let code { line += " \(code)" }
        if !text.isEmpty { line += " \(text)" }
        return line
    }
}

// MARK: - Encoding

extension ByteBuffer {
    /// Writes `response` and CRLF. Control characters in the text are replaced by spaces so a
    /// response can never be split into two lines.
    @discardableResult
    public mutating func writePOP3Response(_ response: Response) -> Int {
        var written = self.writeStaticString(response.status == .ok ? "+OK" : "-ERR")
        if let code = response.code {
            written += self.writeStaticString(" [")
            written += self.writeSingleLineText(code.rawValue)
            written += self.writeStaticString("]")
        }
        if !response.text.isEmpty {
            written += self.writeStaticString(" ")
            written += self.writeSingleLineText(response.text)
        }
        written += self.writeStaticString("\r\n")
        return written
    }

    /// Writes `text` with control characters replaced by spaces; text without any (the usual
    /// case) is copied whole.
    private mutating func writeSingleLineText(_ text: String) -> Int {
        let copied: Int?? = text.utf8.withContiguousStorageIfAvailable { bytes in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return nil }
            return self.writeBytes(bytes)
        }
        if let copied = copied ?? nil { return copied }
        var written = 0
        for byte in text.utf8 {
            written += self.writeInteger(byte < 0x20 || byte == 0x7F ? UInt8(ascii: " ") : byte)
        }
        return written
    }
}
