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
        var bytes: [UInt8] = []
        let header = "Return-Path: \(request.reversePath)\nDelivered-To: \(request.recipient.address)\n"
        bytes.reserveCapacity(header.utf8.count + request.message.readableBytes)
        bytes.append(contentsOf: header.utf8)
        request.message.withUnsafeReadableBytes { message in
            var index = 0
            let count = message.count
            while index < count {
                let byte = message[index]
                if byte == UInt8(ascii: "\r"), index + 1 < count, message[index + 1] == UInt8(ascii: "\n") {
                    index += 1
                    continue
                }
                bytes.append(byte)
                index += 1
            }
        }
        return bytes
    }
}
