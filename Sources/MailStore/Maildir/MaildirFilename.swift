// Maildir file names as qmail, Courier and Dovecot write them, parsed as bytes. See maildir(5)
// and "Using maildir format" (cr.yp.to) for the name and the `:2,` info; the `,S=` and `,W=`
// fields are Dovecot's extensions. This is the one parser and formatter of these names.

/// A Maildir file name: `<base name>[:<info>]`, kept as the bytes the directory holds.
///
/// The base name is the unique name given at delivery and never changes; readers append
/// `:2,<flags>` when they move a message from `new/` to `cur/` and rewrite the flags later.
/// Modern names look like `1700000000.M123456P4242Q7.host,S=1000,W=1030:2,S`; older ones like
/// `1035478339.27041_118.foo.org` or `1035478339.4242.host`. All fields but the base name are
/// `nil` when absent or malformed: maildir(5) tells readers not to rely on the name's inner
/// structure, so nothing here fails on an odd name.
///
/// Names need not be UTF-8, so they are parsed as bytes, once, in a single pass without
/// allocating: a login lists every name of the maildrop (issue 7's profile showed String-based
/// parsing dominating login CPU).
public struct MaildirFilename: Hashable, Sendable, CustomStringConvertible {
    /// The whole file name.
    public let bytes: [UInt8]
    /// The length of the base name: the offset of the first `:`, or the whole name.
    public let baseNameLength: Int
    /// The `,S=<size>` field: the file's size in octets, as stored.
    public let size: Int?
    /// The `,W=<vsize>` field: the size with CRLF line ends (Dovecot's RFC822.SIZE), which is
    /// the POP3 size of the message.
    public let virtualSize: Int?
    /// The leading delivery time in seconds since 1970, when the name has the `time.id.host`
    /// shape with a decimal time.
    public let seconds: Int?
    /// The microseconds of a modern identifier's `M` field.
    public let microseconds: Int?
    /// The process ID: the `P` field of a modern identifier, or the number of an old one
    /// (`pid` or `pid_count`).
    public let processID: Int?
    /// The per-process delivery count: the `Q` field, or the `_count` suffix of an identifier.
    public let deliveryCount: Int?
    /// Where the delivery identifier and the host are in `bytes` (for `time.id.host` names).
    private let identifierRange: Range<Int>?
    private let hostRange: Range<Int>?

    /// Parses a file name as found in `new/` or `cur/`.
    ///
    /// Returns `nil` for names a Maildir reader must skip or cannot hold: empty, starting with
    /// `.` (maildir(5)), or containing `/` or NUL, or with an empty base name.
    public init?(_ bytes: [UInt8]) {
        guard let parsed = bytes.withUnsafeBufferPointer({ Fields.parse($0) }) else { return nil }
        self.bytes = bytes
        self.baseNameLength = parsed.baseNameLength
        self.size = parsed.size
        self.virtualSize = parsed.virtualSize
        self.seconds = parsed.seconds
        self.microseconds = parsed.microseconds
        self.processID = parsed.processID
        self.deliveryCount = parsed.deliveryCount
        self.identifierRange = parsed.identifierRange
        self.hostRange = parsed.hostRange
    }

    /// Parses a file name given as text.
    public init?(parsing name: some StringProtocol) {
        self.init(Array(name.utf8))
    }

    /// Formats a name from a unique part (`time.id.host`), optional `,S=` and `,W=` sizes and
    /// optional flags (written as `:2,<flags>` in ASCII order without repeats, as the Maildir
    /// specification asks).
    ///
    /// The unique part must be a valid base name by itself: not empty, no leading `.`, and no
    /// `/`, `:`, `,` or NUL.
    public init(unique: some StringProtocol, size: Int? = nil, virtualSize: Int? = nil, flags: String? = nil) {
        var bytes = Array(unique.utf8)
        precondition(
            !bytes.isEmpty && bytes.first != UInt8(ascii: ".")
                && !bytes.contains {
                    $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ",") || $0 == 0
                },
            "not a Maildir unique part: \(unique)"
        )
        if let size {
            bytes.append(contentsOf: ",S=".utf8)
            bytes.append(contentsOf: String(size).utf8)
        }
        if let virtualSize {
            bytes.append(contentsOf: ",W=".utf8)
            bytes.append(contentsOf: String(virtualSize).utf8)
        }
        if let flags {
            bytes.append(contentsOf: ":2,".utf8)
            bytes.append(contentsOf: Self.normalisedFlags(flags.utf8))
        }
        self.init(bytes)!  // safe: checked above
    }

    public static func == (lhs: MaildirFilename, rhs: MaildirFilename) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.bytes) }

    /// The file name as text; bytes that are not UTF-8 show as U+FFFD (for display and for
    /// names already known to be ASCII).
    public var description: String { String(decoding: self.bytes, as: UTF8.self) }

    /// Everything before the first `:`; stable for the life of the message.
    public var baseName: ArraySlice<UInt8> { self.bytes[..<self.baseNameLength] }

    /// Everything after the first `:` (for example `2,FS`), or `nil` when there is no `:`.
    public var info: ArraySlice<UInt8>? {
        self.baseNameLength < self.bytes.count ? self.bytes[(self.baseNameLength + 1)...] : nil
    }

    /// The base name up to its first `,` (the `time.id.host` part).
    public var uniquePart: ArraySlice<UInt8> {
        let base = self.baseName
        return base[..<(base.firstIndex(of: UInt8(ascii: ",")) ?? base.endIndex)]
    }

    /// The flags of `:2,<flags>`, without any Dovecot extra fields after a later `,`.
    /// `nil` when the info is missing or is not of the `2,` kind.
    public var flags: ArraySlice<UInt8>? {
        guard let info, info.starts(with: Self.flagsPrefix) else { return nil }
        let rest = info.dropFirst(2)
        return rest[..<(rest.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex)]
    }

    /// The delivery identifier between the first and second `.` (for example `M123P45Q6`).
    public var deliveryIdentifier: ArraySlice<UInt8>? { self.identifierRange.map { self.bytes[$0] } }

    /// The host name after the second `.`, as written (with `\057` and `\072` escapes).
    public var host: ArraySlice<UInt8>? { self.hostRange.map { self.bytes[$0] } }

    /// This name with its info replaced by `:2,<flags>` (flags in ASCII order, without
    /// repeats): what a reader writes when it moves a message to `cur/` or changes its flags.
    public func withFlags(_ flags: String) -> MaildirFilename {
        var bytes = Array(self.baseName)
        bytes.append(contentsOf: ":2,".utf8)
        bytes.append(contentsOf: Self.normalisedFlags(flags.utf8))
        return MaildirFilename(bytes)!  // safe: the base name was valid
    }

    private static let flagsPrefix: [UInt8] = [UInt8(ascii: "2"), UInt8(ascii: ",")]

    private static func normalisedFlags(_ flags: some Sequence<UInt8>) -> [UInt8] {
        Array(Set(flags)).sorted()
    }

    // MARK: - Parsing

    /// The fields of a name, found in one pass over its bytes.
    struct Fields {
        var baseNameLength = 0
        var size: Int?
        var virtualSize: Int?
        var seconds: Int?
        var microseconds: Int?
        var processID: Int?
        var deliveryCount: Int?
        var identifierRange: Range<Int>?
        var hostRange: Range<Int>?

        static func parse(_ name: UnsafeBufferPointer<UInt8>) -> Fields? {
            guard let first = name.first, first != UInt8(ascii: ".") else { return nil }
            var fields = Fields()
            var baseEnd = name.count
            for index in 0..<name.count {
                let byte = name[index]
                if byte == UInt8(ascii: "/") || byte == 0 {
                    return nil
                }
                if byte == UInt8(ascii: ":"), baseEnd == name.count {
                    baseEnd = index
                }
            }
            guard baseEnd > 0 else { return nil }
            fields.baseNameLength = baseEnd

            // `,KEY=value` fields after the unique part; the first of each key counts.
            var uniqueEnd = baseEnd
            var index = 0
            while index < baseEnd, name[index] != UInt8(ascii: ",") {
                index += 1
            }
            uniqueEnd = index
            var sizeSeen = false
            var virtualSizeSeen = false
            while index < baseEnd {
                let start = index + 1
                var end = start
                while end < baseEnd, name[end] != UInt8(ascii: ",") {
                    end += 1
                }
                if end - start > 2, name[start + 1] == UInt8(ascii: "=") {
                    if name[start] == UInt8(ascii: "S"), !sizeSeen {
                        sizeSeen = true
                        fields.size = decimal(name, start + 2, end)
                    } else if name[start] == UInt8(ascii: "W"), !virtualSizeSeen {
                        virtualSizeSeen = true
                        fields.virtualSize = decimal(name, start + 2, end)
                    }
                }
                index = end
            }

            // `time.identifier.host`: three parts (the host may hold more dots), a decimal time.
            guard let firstDot = firstIndex(of: UInt8(ascii: "."), in: name, 0, uniqueEnd),
                let secondDot = firstIndex(of: UInt8(ascii: "."), in: name, firstDot + 1, uniqueEnd),
                let seconds = decimal(name, 0, firstDot)
            else { return fields }
            fields.seconds = seconds
            fields.identifierRange = (firstDot + 1)..<secondDot
            fields.hostRange = (secondDot + 1)..<uniqueEnd
            fields.parseIdentifier(name, firstDot + 1, secondDot)
            return fields
        }

        /// The letters that start a field of a modern delivery identifier (cr.yp.to). None is a
        /// hex digit, so hex values (`V`, `I`, `R`, `X`, `#`) do not end a field early.
        private static func isIdentifierLetter(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "#"), UInt8(ascii: "X"), UInt8(ascii: "R"), UInt8(ascii: "I"), UInt8(ascii: "V"),
                UInt8(ascii: "M"), UInt8(ascii: "P"), UInt8(ascii: "Q"):
                return true
            default:
                return false
            }
        }

        /// Fills microseconds, process ID and delivery count from the identifier
        /// `name[start..<end]`: old `pid` or `pid_count`, or modern `#n X n R n I n V n M n P n Q n`
        /// fields (the first of each letter counts; an `_` ends them). Without a `Q` field, a
        /// `_count` suffix is the delivery count.
        private mutating func parseIdentifier(_ name: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
            let firstUnderscore = Self.firstIndex(of: UInt8(ascii: "_"), in: name, start, end)
            if let firstUnderscore {
                if Self.firstIndex(of: UInt8(ascii: "_"), in: name, firstUnderscore + 1, end) == nil,
                    let pid = Self.decimal(name, start, firstUnderscore),
                    let count = Self.decimal(name, firstUnderscore + 1, end)
                {
                    self.processID = pid
                    self.deliveryCount = count
                    return
                }
            } else if let pid = Self.decimal(name, start, end) {
                self.processID = pid
                return
            }
            var sawM = false
            var sawP = false
            var sawQ = false
            if start < end, Self.isIdentifierLetter(name[start]) {
                var index = start
                while index < end {
                    let key = name[index]
                    var fieldEnd = index + 1
                    while fieldEnd < end, !Self.isIdentifierLetter(name[fieldEnd]), name[fieldEnd] != UInt8(ascii: "_")
                    {
                        fieldEnd += 1
                    }
                    let value = Self.decimal(name, index + 1, fieldEnd)
                    switch key {
                    case UInt8(ascii: "M") where !sawM:
                        sawM = true
                        self.microseconds = value
                    case UInt8(ascii: "P") where !sawP:
                        sawP = true
                        self.processID = value
                    case UInt8(ascii: "Q") where !sawQ:
                        sawQ = true
                        self.deliveryCount = value
                    default:
                        break
                    }
                    guard fieldEnd < end, name[fieldEnd] != UInt8(ascii: "_") else { break }
                    index = fieldEnd
                }
            }
            if !sawQ, firstUnderscore != nil {
                var last = end - 1
                while name[last] != UInt8(ascii: "_") {
                    last -= 1
                }
                self.deliveryCount = Self.decimal(name, last + 1, end)
            }
        }

        private static func firstIndex(of byte: UInt8, in name: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int)
            -> Int?
        {
            var index = start
            while index < end {
                if name[index] == byte {
                    return index
                }
                index += 1
            }
            return nil
        }

        /// A non-negative decimal of 1 to 18 digits (so it cannot overflow `Int`).
        static func decimal(_ name: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
            guard start < end, end - start <= 18 else { return nil }
            var value = 0
            for index in start..<end {
                let byte = name[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
    }

    /// A non-negative decimal of 1 to 18 digits, or `nil`.
    public static func decimal(_ bytes: some Collection<UInt8>) -> Int? {
        let array = Array(bytes)
        return array.withUnsafeBufferPointer { Fields.decimal($0, 0, $0.count) }
    }
}
