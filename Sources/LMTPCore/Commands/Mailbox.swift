// LMTPCore: mailbox addresses as RFC 5321 §4.1.2 writes them, and which accounts they name.

/// An address from a path: `Local-part "@" Domain` (RFC 5321 §4.1.2).
///
/// The local part is kept unquoted (`"john doe"` becomes `john doe`); ``address`` is the
/// mailbox as it appeared on the wire, without its source route, for replies and headers.
public struct Mailbox: Hashable, Sendable, CustomStringConvertible {
    /// The local part with quoting and quoted-pairs removed.
    public var localPart: String
    /// The domain or address literal; nil only for a bare local name (`<postmaster>`, which
    /// RFC 5321 §4.1.1.3 requires a server to accept, and local names LMTP clients send).
    public var domain: String?
    /// The mailbox as sent, e.g. `alice@example.org` or `"john doe"@example.org`.
    public var address: String

    public init(localPart: String, domain: String?, address: String) {
        self.localPart = localPart
        self.domain = domain
        self.address = address
    }

    public var description: String { address }

    /// The account names this recipient may belong to, in the order they are tried: the whole
    /// address, then its local part (the contract of `serve --lmtp`: `local@domain` goes to
    /// user `local` unless the whole address is itself a user), then the same in lower case,
    /// since mail systems treat addresses case-insensitively (RFC 5321 §2.4 leaves local-part
    /// case to the receiving host).
    public var candidateUsers: [String] {
        var candidates: [String] = []
        func add(_ name: String) {
            if !name.isEmpty, !candidates.contains(name) { candidates.append(name) }
        }
        let whole = domain.map { "\(localPart)@\($0)" } ?? localPart
        add(whole)
        add(localPart)
        add(whole.lowercased())
        add(localPart.lowercased())
        return candidates
    }
}
