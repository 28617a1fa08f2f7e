// POP3Core: command encoding, for clients and tests (RFC 1939 §3, RFC 5034 §4).
import MailCore

public import struct NIOCore.ByteBuffer

extension ByteBuffer {
    /// Writes `command` and CRLF as a client sends it. `AUTH` initial responses are
    /// base64-encoded, `=` standing for an empty one (RFC 5034 §4).
    @discardableResult
    public mutating func writePOP3Command(_ command: Command) -> Int {
        var written = self.writeString(command.keyword)
        func argument(_ text: String) {
            written += self.writeStaticString(" ")
            written += self.writeString(text)
        }
        switch command {
        case .user(let name):
            argument(name)
        case .pass(let password):
            written += self.writeStaticString(" ")
            written += self.writeBytes(password)
        case .apop(let name, let digest):
            argument(name)
            argument(digest)
        case .auth(let mechanism, let initialResponse):
            argument(mechanism)
            if let initialResponse {
                argument(initialResponse.isEmpty ? "=" : Base64.encode(initialResponse))
            }
        case .list(let number), .uidl(let number):
            if let number { argument(number.description) }
        case .retr(let number), .dele(let number):
            argument(number.description)
        case .top(let number, let lines):
            argument(number.description)
            argument(String(lines))
        case .lang(let tag):
            if let tag { argument(tag) }
        case .unknown(_, let arguments):
            for text in arguments { argument(text) }
        case .stls, .capa, .stat, .noop, .rset, .quit, .utf8:
            break
        }
        written += self.writeStaticString("\r\n")
        return written
    }

    /// Writes a client line: a command, a base64 SASL response (an empty response is an
    /// empty line), or `*` to cancel (RFC 5034 §4).
    @discardableResult
    public mutating func writePOP3ClientLine(_ line: ClientLine) -> Int {
        switch line {
        case .command(let command):
            return self.writePOP3Command(command)
        case .saslResponse(let bytes):
            return self.writeString(Base64.encode(bytes)) + self.writeStaticString("\r\n")
        case .saslCancel:
            return self.writeStaticString("*\r\n")
        }
    }
}

extension Command {
    /// The wire bytes of this command, CRLF included.
    public var encodedBytes: [UInt8] {
        var buffer = ByteBuffer()
        buffer.writePOP3Command(self)
        return Array(buffer.readableBytesView)
    }
}
