// Test support: the client side of APOP (RFC 1939 §7).
import Crypto

/// Computes APOP digests as a client does.
public enum APOPDigest {
    /// MD5(timestamp ‖ secret) as 32 lower-case hex digits (RFC 1939 §7).
    public static func hex(timestamp: String, secret: String) -> String {
        Insecure.MD5.hash(data: Array((timestamp + secret).utf8))
            .map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }
            .joined()
    }
}
