// Maildir unique names as qmail, Courier and Dovecot write them. See maildir(5) and
// "Using maildir format" (cr.yp.to) for the name and the `:2,` info; the `,S=` and `,W=`
// fields are Dovecot's extensions.

/// A parsed Maildir file name: `<base name>[:<info>]`.
///
/// The base name is the unique name given at delivery and never changes; readers append
/// `:2,<flags>` when they move a message from `new/` to `cur/` and rewrite the flags later.
/// Modern names look like `1700000000.M123456P4242Q7.host,S=1000,W=1030:2,S`; older ones like
/// `1035478339.27041_118.foo.org` or `1035478339.4242.host`. All fields but the base name are
/// parsed on demand and are `nil` when absent or malformed: maildir(5) tells readers not to rely
/// on the name's inner structure, so nothing here fails on an odd name.
public struct MaildirFilename: Hashable, Sendable, CustomStringConvertible {
    /// Everything before the first `:`; stable for the life of the message.
    public let baseName: String
    /// Everything after the first `:` (for example `2,FS`), or `nil` when there is no `:`.
    public let info: String?

    /// Parses a file name as found in `new/` or `cur/`.
    ///
    /// Returns `nil` for names a Maildir reader must skip or cannot hold: empty, starting with
    /// `.` (maildir(5)), or containing `/` or NUL, or with an empty base name.
    public init?(parsing name: some StringProtocol) {
        let name = String(name)
        guard let first = name.utf8.first, first != UInt8(ascii: ".") else { return nil }
        guard !name.utf8.contains(UInt8(ascii: "/")), !name.utf8.contains(0) else { return nil }
        if let colon = name.firstIndex(of: ":") {
            self.baseName = String(name[..<colon])
            self.info = String(name[name.index(after: colon)...])
        } else {
            self.baseName = name
            self.info = nil
        }
        guard !self.baseName.isEmpty else { return nil }
    }

    /// Formats a name from a unique part (`time.id.host`), optional `,S=` and `,W=` sizes and
    /// optional flags (written as `:2,<flags>` with the flags in ASCII order, as the Maildir
    /// specification asks).
    public init(unique: String, size: Int? = nil, virtualSize: Int? = nil, flags: String? = nil) {
        var base = unique
        if let size {
            base += ",S=\(size)"
        }
        if let virtualSize {
            base += ",W=\(virtualSize)"
        }
        self.baseName = base
        self.info = flags.map { "2," + String($0.sorted()) }
    }

    /// The full file name: `baseName`, then `:info` when there is info.
    public var description: String {
        guard let info else { return self.baseName }
        return self.baseName + ":" + info
    }

    /// The base name up to its first `,` (the `time.id.host` part).
    public var uniquePart: Substring {
        self.baseName.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)[0]
    }

    /// The `,S=<size>` field: the file's size in octets, as stored.
    public var size: Int? { self.field("S") }

    /// The `,W=<vsize>` field: the size with CRLF line ends (Dovecot's RFC822.SIZE), which is
    /// the POP3 size of the message.
    public var virtualSize: Int? { self.field("W") }

    /// The flags of `:2,<flags>`, without any Dovecot extra fields after a later `,`.
    /// `nil` when the info is missing or is not of the `2,` kind.
    public var flags: Substring? {
        guard let info, info.hasPrefix("2,") else { return nil }
        let rest = info.dropFirst(2)
        return rest.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)[0]
    }

    /// The leading delivery time in seconds since 1970, when the name starts with digits
    /// followed by `.`.
    public var seconds: Int? {
        guard let parts = self.uniqueParts else { return nil }
        return Self.decimal(parts.time)
    }

    /// The delivery identifier between the first and second `.` (for example `M123P45Q6`).
    public var deliveryIdentifier: Substring? { self.uniqueParts?.identifier }

    /// The host name after the second `.`, as written (with `\057` and `\072` escapes).
    public var host: Substring? { self.uniqueParts?.host }

    /// The microseconds of a modern identifier's `M` field.
    public var microseconds: Int? { self.identifierField("M") }

    /// The process ID: the `P` field of a modern identifier, or the number of an old one
    /// (`pid` or `pid_count`).
    public var processID: Int? {
        guard let identifier = self.deliveryIdentifier else { return nil }
        if let old = Self.oldIdentifier(identifier) {
            return old.pid
        }
        return self.identifierField("P")
    }

    /// The per-process delivery count: the `Q` field, or the `_count` suffix of an identifier.
    public var deliveryCount: Int? {
        guard let identifier = self.deliveryIdentifier else { return nil }
        if let old = Self.oldIdentifier(identifier) {
            return old.count
        }
        if let q = self.identifierField("Q") {
            return q
        }
        guard let underscore = identifier.lastIndex(of: "_") else { return nil }
        return Self.decimal(identifier[identifier.index(after: underscore)...])
    }

    // MARK: - Parsing helpers

    private var uniqueParts: (time: Substring, identifier: Substring, host: Substring)? {
        let parts = self.uniquePart.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, Self.decimal(parts[0]) != nil else { return nil }
        return (parts[0], parts[1], parts[2])
    }

    private func field(_ key: Character) -> Int? {
        let fields = self.baseName.split(separator: ",", omittingEmptySubsequences: false).dropFirst()
        for field in fields where field.count > 2 && field.first == key && field.dropFirst().first == "=" {
            return Self.decimal(field.dropFirst(2))
        }
        return nil
    }

    /// The letters that start a field of a modern delivery identifier (cr.yp.to). None is a hex
    /// digit, so hex values (`V`, `I`, `R`, `X`, `#`) do not end a field early.
    private static let identifierLetters: Set<Character> = ["#", "X", "R", "I", "V", "M", "P", "Q"]

    private func identifierField(_ letter: Character) -> Int? {
        guard let identifier = self.deliveryIdentifier, let first = identifier.first,
            Self.identifierLetters.contains(first)
        else { return nil }
        var index = identifier.startIndex
        while index < identifier.endIndex {
            let key = identifier[index]
            var end = identifier.index(after: index)
            while end < identifier.endIndex, !Self.identifierLetters.contains(identifier[end]),
                identifier[end] != "_"
            {
                end = identifier.index(after: end)
            }
            if key == letter {
                return Self.decimal(identifier[identifier.index(after: index)..<end])
            }
            guard end < identifier.endIndex, identifier[end] != "_" else { return nil }
            index = end
        }
        return nil
    }

    /// `pid` or `pid_count`, the old-fashioned identifiers.
    private static func oldIdentifier(_ identifier: Substring) -> (pid: Int, count: Int?)? {
        let parts = identifier.split(separator: "_", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            return Self.decimal(parts[0]).map { ($0, nil) }
        case 2:
            guard let pid = Self.decimal(parts[0]), let count = Self.decimal(parts[1]) else { return nil }
            return (pid, count)
        default:
            return nil
        }
    }

    /// A non-negative decimal of at most 18 digits (so it cannot overflow `Int`).
    static func decimal(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18 else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
