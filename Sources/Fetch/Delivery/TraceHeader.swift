// The trace header lines put at the top of every stored message (RFC 5322 §3.6.7).
import Foundation

enum TraceHeader {
    static func lines(for envelope: DeliveryEnvelope) -> [UInt8] {
        var text =
            "Received: from \(sanitize(envelope.serverHost)) by postoffice (POP3) for <\(sanitize(envelope.user))>;"
        text += " \(rfc5322Date(envelope.receivedAt))\n"
        text += "X-PostOffice-UIDL: \(sanitize(envelope.key.uniqueID))\n"
        if envelope.headersOnly {
            text += "X-PostOffice-Headers-Only: yes\n"
        }
        return Array(text.utf8)
    }

    /// Keeps header text on one line of printable ASCII.
    static func sanitize(_ value: String) -> String {
        String(String.UnicodeScalarView(value.unicodeScalars.map { $0.value >= 0x21 && $0.value <= 0x7E ? $0 : "_" }))
    }

    /// `Thu, 13 Feb 2025 10:00:00 +0000` (RFC 5322 §3.3), in UTC.
    static func rfc5322Date(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
