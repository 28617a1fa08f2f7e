// DNS queries and responses on the wire (RFC 1035 §4), only as much as discovery needs: one
// question; A, AAAA, CNAME and SRV (RFC 2782) answers; an EDNS(0) OPT record (RFC 6891) so that
// answers larger than 512 octets come over UDP.

/// A record type this client asks for or reads.
public struct DNSRecordType: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// RFC 1035 §3.2.2.
    public static let a = DNSRecordType(rawValue: 1)
    /// RFC 1035 §3.2.2.
    public static let cname = DNSRecordType(rawValue: 5)
    /// RFC 3596 §2.1.
    public static let aaaa = DNSRecordType(rawValue: 28)
    /// RFC 2782.
    public static let srv = DNSRecordType(rawValue: 33)
    /// RFC 6891 §6.1.1.
    static let opt = DNSRecordType(rawValue: 41)

    public var description: String {
        switch self {
        case .a: "A"
        case .cname: "CNAME"
        case .aaaa: "AAAA"
        case .srv: "SRV"
        default: "TYPE\(self.rawValue)"
        }
    }
}

/// An SRV record (RFC 2782): where a service of a domain is offered.
public struct SRVRecord: Hashable, Sendable {
    public var priority: UInt16
    public var weight: UInt16
    public var port: UInt16
    /// The target host, without the final dot; `"."` (the root) means "not offered here".
    public var target: String

    public init(priority: UInt16, weight: UInt16, port: UInt16, target: String) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }
}

/// One resource record of an answer section.
enum DNSRecordData: Hashable, Sendable {
    case address(String)
    case cname(String)
    case srv(SRVRecord)
    case other
}

struct DNSResourceRecord: Hashable, Sendable {
    var name: String
    var type: DNSRecordType
    var data: DNSRecordData
}

/// Why a DNS message could not be used.
public struct DNSError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { self.message }
}

/// A parsed response: its code and answer records.
struct DNSResponse: Hashable, Sendable {
    /// RFC 1035 §4.1.1 RCODE: 0 no error, 2 server failure, 3 name error (NXDOMAIN), 5 refused.
    var responseCode: UInt8
    /// TC: the answer did not fit (RFC 1035 §4.1.1); ask again over TCP.
    var truncated: Bool
    var answers: [DNSResourceRecord]

    static let noError: UInt8 = 0
    static let nameError: UInt8 = 3
}

enum DNSMessage {
    /// The UDP payload size we announce with EDNS(0): the size DNS Flag Day 2020 settled on.
    static let udpPayloadSize: UInt16 = 1232
    /// The most answer records read from one response.
    static let maximumAnswers = 64
    /// The most compression pointers followed in one name (a loop is hostile input).
    static let maximumPointers = 16

    /// A recursive query (RD set, RFC 1035 §4.1.1) for `name` and `type`, with an OPT record.
    static func query(id: UInt16, name: String, type: DNSRecordType) throws(DNSError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.append(u16: id)
        bytes.append(u16: 0x0100)  // QR=0, OPCODE=0, RD=1
        bytes.append(u16: 1)  // QDCOUNT
        bytes.append(u16: 0)  // ANCOUNT
        bytes.append(u16: 0)  // NSCOUNT
        bytes.append(u16: 1)  // ARCOUNT: the OPT record
        bytes += try Self.encode(name: name)
        bytes.append(u16: type.rawValue)
        bytes.append(u16: 1)  // IN
        // OPT (RFC 6891 §6.1.2): root name, type 41, CLASS = payload size, TTL = 0, no options.
        bytes.append(0)
        bytes.append(u16: DNSRecordType.opt.rawValue)
        bytes.append(u16: Self.udpPayloadSize)
        bytes += [0, 0, 0, 0, 0, 0]
        return bytes
    }

    /// RFC 1035 §3.1: length-prefixed labels of at most 63 octets, at most 255 in all.
    static func encode(name: String) throws(DNSError) -> [UInt8] {
        var text = Substring(name)
        if text.hasSuffix(".") { text = text.dropLast() }
        guard !text.isEmpty else { throw DNSError("an empty name cannot be looked up") }
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw DNSError("'\(name)' is not an ASCII host name (write an international name in its xn-- form)")
        }
        var bytes: [UInt8] = []
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63 else {
                throw DNSError("'\(name)' is not a valid host name")
            }
            bytes.append(UInt8(label.utf8.count))
            bytes += label.utf8
        }
        bytes.append(0)
        guard bytes.count <= 255 else { throw DNSError("'\(name)' is longer than a host name may be") }
        return bytes
    }

    /// Parses a response to the query `id` for `name`/`type`. Throws for anything malformed or
    /// for a response to another question (RFC 5452 §9: match ID and question).
    static func parse(_ bytes: [UInt8], id: UInt16, name: String, type: DNSRecordType) throws(DNSError) -> DNSResponse {
        var reader = Reader(bytes: bytes)
        guard try reader.u16() == id else { throw DNSError("a DNS answer for another query") }
        let flags = try reader.u16()
        guard flags & 0x8000 != 0 else { throw DNSError("a DNS query where an answer was expected") }
        let questions = try reader.u16()
        let answers = try reader.u16()
        _ = try reader.u16()  // NSCOUNT
        _ = try reader.u16()  // ARCOUNT
        guard questions == 1 else { throw DNSError("a DNS answer with \(questions) questions") }
        let asked = try reader.name()
        let askedType = try reader.u16()
        _ = try reader.u16()  // class
        guard Self.same(asked, name), askedType == type.rawValue else {
            throw DNSError("a DNS answer to another question (\(asked))")
        }
        var records: [DNSResourceRecord] = []
        for _ in 0..<min(Int(answers), Self.maximumAnswers) {
            let owner = try reader.name()
            let recordType = DNSRecordType(rawValue: try reader.u16())
            _ = try reader.u16()  // class
            _ = try reader.u32()  // TTL
            let length = Int(try reader.u16())
            let end = reader.offset + length
            guard end <= bytes.count else { throw DNSError("a DNS record runs past the end of the answer") }
            let data: DNSRecordData
            switch recordType {
            case .a where length == 4:
                data = .address(reader.bytes[reader.offset..<end].map(String.init).joined(separator: "."))
            case .aaaa where length == 16:
                data = .address(Self.formatIPv6(Array(reader.bytes[reader.offset..<end])))
            case .cname:
                data = .cname(try reader.name())
            case .srv where length >= 7:
                let priority = try reader.u16()
                let weight = try reader.u16()
                let port = try reader.u16()
                // RFC 2782 forbids compression in the target; accept it anyway, as resolvers do.
                let target = try reader.name()
                data = .srv(SRVRecord(priority: priority, weight: weight, port: port, target: target))
            default:
                data = .other
            }
            reader.offset = end
            records.append(DNSResourceRecord(name: owner, type: recordType, data: data))
        }
        return DNSResponse(
            responseCode: UInt8(flags & 0x000F),
            truncated: flags & 0x0200 != 0,
            answers: records
        )
    }

    /// Case-insensitive name equality (RFC 4343), ignoring a final dot.
    static func same(_ a: String, _ b: String) -> Bool {
        func normal(_ s: String) -> String { (s.hasSuffix(".") ? String(s.dropLast()) : s).lowercased() }
        return normal(a) == normal(b)
    }

    /// RFC 5952 §4 text form: lower case, zeros suppressed, the longest run of zero groups as `::`.
    static func formatIPv6(_ bytes: [UInt8]) -> String {
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        var bestStart = -1
        var bestLength = 0
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > bestLength && end - index > 1 {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestStart >= 0 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    /// A cursor over a message; names follow compression pointers (RFC 1035 §4.1.4) a bounded
    /// number of times and only backwards.
    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u8() throws(DNSError) -> UInt8 {
            guard offset < bytes.count else { throw DNSError("a DNS answer is cut short") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(DNSError) -> UInt16 {
            UInt16(try u8()) << 8 | UInt16(try u8())
        }

        mutating func u32() throws(DNSError) -> UInt32 {
            UInt32(try u16()) << 16 | UInt32(try u16())
        }

        mutating func name() throws(DNSError) -> String {
            var labels: [String] = []
            var position = offset
            var resumeAt: Int?
            var pointers = 0
            var length = 0
            while true {
                guard position < bytes.count else { throw DNSError("a DNS name is cut short") }
                let byte = bytes[position]
                if byte & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { throw DNSError("a DNS name is cut short") }
                    let target = Int(byte & 0x3F) << 8 | Int(bytes[position + 1])
                    pointers += 1
                    guard pointers <= DNSMessage.maximumPointers, target < position else {
                        throw DNSError("a DNS name with a compression loop")
                    }
                    if resumeAt == nil { resumeAt = position + 2 }
                    position = target
                    continue
                }
                guard byte & 0xC0 == 0 else { throw DNSError("a DNS name with an unknown label type") }
                position += 1
                if byte == 0 { break }
                let end = position + Int(byte)
                guard end <= bytes.count else { throw DNSError("a DNS name is cut short") }
                length += Int(byte) + 1
                guard length <= 255 else { throw DNSError("a DNS name longer than 255 octets") }
                labels.append(String(decoding: bytes[position..<end], as: UTF8.self))
                position = end
            }
            offset = resumeAt ?? position
            return labels.isEmpty ? "." : labels.joined(separator: ".")
        }
    }
}

extension [UInt8] {
    fileprivate mutating func append(u16 value: UInt16) {
        self.append(UInt8(value >> 8))
        self.append(UInt8(value & 0xFF))
    }
}
