// LMTPCore: the bytes stored for one recipient (RFC 5322 §3.6.7 trace fields, as Dovecot's LMTP
// writes them; maildir(5) line ends).
import struct NIOCore.ByteBuffer

/// The file content a delivery stores for one account.
public enum DeliveredMessage {
    /// `Return-Path: <sender>` and `Delivered-To: recipient` on top, as Dovecot's LMTP adds them
    /// (RFC 5322 §3.6.7: Return-Path is added by the final delivery), then the message with
    /// each CRLF turned into LF: Maildir files hold LF line ends (maildir(5); Dovecot's
    /// `mail_save_crlf = no`), and POP3 restores CRLF when it sends them. A lone CR or LF is
    /// kept as it came.
    public static func bytes(for request: LMTPServerSession.DeliveryRequest) -> [UInt8] {
        let header = Array("Return-Path: \(request.reversePath)\nDelivered-To: \(request.recipient.address)\n".utf8)
        return request.message.withUnsafeReadableBytes { message in
            [UInt8](unsafeUninitializedCapacity: header.count + message.count) { output, written in
                var out = 0
                for byte in header {
                    output[out] = byte
                    out += 1
                }
                let count = message.count
                var index = 0
                while index < count {
                    let byte = message[index]
                    index += 1
                    if byte == UInt8(ascii: "\r"), index < count, message[index] == UInt8(ascii: "\n") { continue }
                    output[out] = byte
                    out += 1
                }
                written = out
            }
        }
    }
}
