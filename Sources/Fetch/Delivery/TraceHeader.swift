// The trace header lines put at the top of every stored message (RFC 5322 §3.6.7), the date
// formatted by hand (MailDate): a Foundation formatter per message cost a tenth of a fetch's CPU.
import MailCore

enum TraceHeader {
    static func lines(for envelope: DeliveryEnvelope) -> [UInt8] {
        var text =
            "Received: from \(sanitize(envelope.serverHost)) by postoffice (POP3) for <\(sanitize(envelope.user))>;"
        text += " \(MailDate.rfc5322(envelope.receivedAt))\n"
        // A unique-id is printable ASCII already (RFC 1939 §7).
        text += "X-PostOffice-UIDL: \(envelope.key.uniqueID)\n"
        if envelope.headersOnly {
            text += "X-PostOffice-Headers-Only: yes\n"
        }
        return Array(text.utf8)
    }

    /// Keeps header text on one line of printable ASCII.
    static func sanitize(_ value: String) -> String {
        String(String.UnicodeScalarView(value.unicodeScalars.map { $0.value >= 0x21 && $0.value <= 0x7E ? $0 : "_" }))
    }
}
