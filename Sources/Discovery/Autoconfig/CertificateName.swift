// Whether a certificate names a host (RFC 6125 §6.4): NIOSSL also accepts a certificate whose
// IP address entry matches the address connected to, which proves nothing about the name asked
// for, so discovery checks the DNS names itself.

import X509

enum CertificateName {
    /// Whether `certificate` has a DNS name entry for `host`: equal ignoring case and a final
    /// dot, or a wildcard that is the whole left-most label (RFC 6125 §6.4.3) standing for one
    /// label that is not the last but one (`*.com` matches nothing).
    static func matches(_ certificate: Certificate, host: String) -> Bool {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return false }
        let wanted = Self.labels(host)
        for case .dnsName(let name) in names {
            let pattern = Self.labels(name)
            guard pattern.count == wanted.count else { continue }
            if pattern == wanted { return true }
            if pattern.first == "*", pattern.count >= 3, Array(pattern.dropFirst()) == Array(wanted.dropFirst()) {
                return true
            }
        }
        return false
    }

    private static func labels(_ name: String) -> [Substring] {
        var name = Substring(name.lowercased())
        if name.hasSuffix(".") { name = name.dropLast() }
        return name.split(separator: ".", omittingEmptySubsequences: false)
    }
}
