// An e-mail address split where discovery needs it.

/// `local@domain`, the domain in lower case without a final dot.
public struct MailAddress: Hashable, Sendable, CustomStringConvertible {
    public var localPart: String
    public var domain: String

    /// Splits at the last `@` (a quoted local part may contain one, RFC 5322 §3.4.1). Nil when
    /// either side is empty or the domain is not a host name (ASCII letters, digits, `-`, `.`).
    public init?(_ text: String) {
        guard let at = text.lastIndex(of: "@") else { return nil }
        let local = String(text[..<at])
        var domain = text[text.index(after: at)...].lowercased()
        if domain.hasSuffix(".") { domain.removeLast() }
        let hostCharacters = domain.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E
        }
        guard !local.isEmpty, !domain.isEmpty, hostCharacters, !domain.hasPrefix("."), !domain.contains("..")
        else { return nil }
        self.localPart = local
        self.domain = domain
    }

    public var description: String { "\(self.localPart)@\(self.domain)" }

    /// Whether `host` is the domain or a name under it (RFC 8314 §5.1: an SRV target elsewhere
    /// is confirmed with the user before any connection).
    public func contains(host: String) -> Bool {
        let host = host.lowercased()
        return host == self.domain || host.hasSuffix("." + self.domain)
    }
}
