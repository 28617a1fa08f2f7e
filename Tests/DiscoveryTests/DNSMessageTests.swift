import Testing

@testable import Discovery

@Suite("DNS messages")
struct DNSMessageTests {
    /// A response to `query` with `answers` (already encoded records) and a response code.
    static func response(
        to query: [UInt8],
        rcode: UInt8 = 0,
        truncated: Bool = false,
        answers: [[UInt8]] = []
    ) -> [UInt8] {
        // The question section ends after QNAME, QTYPE, QCLASS: everything before the OPT record.
        let question = Array(query[12..<(query.count - 11)])
        var bytes = Array(query[0..<2])
        bytes += [0x81 | (truncated ? 0x02 : 0), 0x80 | rcode]
        bytes += [0, 1, 0, UInt8(answers.count), 0, 0, 0, 0]
        bytes += question
        for answer in answers { bytes += answer }
        return bytes
    }

    /// A resource record whose owner is a pointer to the question's name (offset 12).
    static func record(type: UInt16, data: [UInt8], owner: [UInt8] = [0xC0, 12]) -> [UInt8] {
        owner + [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1, 0, 0, 0x0E, 0x10]
            + [UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
    }

    static func srvData(priority: UInt16, weight: UInt16, port: UInt16, target: [UInt8]) -> [UInt8] {
        [priority, weight, port].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } + target
    }

    static func name(_ text: String) -> [UInt8] { try! DNSMessage.encode(name: text) }  // safe: test literals

    @Test func queryIsRecursiveWithOneQuestionAndAnOPTRecord() throws {
        let query = try DNSMessage.query(id: 0xBEEF, name: "_pop3s._tcp.example.org", type: .srv)
        #expect(Array(query[0..<12]) == [0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1])
        let question = Self.name("_pop3s._tcp.example.org") + [0, 33, 0, 1]
        #expect(Array(query[12..<(12 + question.count)]) == question)
        // OPT: root name, type 41, class = UDP payload size 1232.
        #expect(Array(query.suffix(11)) == [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0])
    }

    @Test(arguments: ["", ".", "a..b", String(repeating: "x", count: 64) + ".org", "bücher.example", "a b.org"])
    func badNamesAreRefused(_ name: String) {
        #expect(throws: DNSError.self) { try DNSMessage.encode(name: name) }
    }

    @Test func nameLongerThan255OctetsIsRefused() {
        let name = Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: ".")
        #expect(throws: DNSError.self) { try DNSMessage.encode(name: name) }
    }

    @Test func srvAnswersAreRead() throws {
        let query = try DNSMessage.query(id: 7, name: "_pop3s._tcp.example.org", type: .srv)
        let answers = [
            Self.record(
                type: 33,
                data: Self.srvData(priority: 10, weight: 5, port: 995, target: Self.name("pop.example.org"))
            ),
            // A compressed target (RFC 2782 forbids it; resolvers accept it): "pop2" + a pointer to
            // "example.org" in the question, after the labels "_pop3s" (1 + 6) and "_tcp" (1 + 4).
            Self.record(
                type: 33,
                data: Self.srvData(
                    priority: 20,
                    weight: 0,
                    port: 995,
                    target: [4] + Array("pop2".utf8) + [0xC0, 12 + 12]
                )
            ),
        ]
        let response = try DNSMessage.parse(
            Self.response(to: query, answers: answers),
            id: 7,
            name: "_pop3s._tcp.example.org",
            type: .srv
        )
        #expect(response.responseCode == 0)
        #expect(
            response.answers.map(\.data) == [
                .srv(SRVRecord(priority: 10, weight: 5, port: 995, target: "pop.example.org")),
                .srv(SRVRecord(priority: 20, weight: 0, port: 995, target: "pop2.example.org")),
            ]
        )
        #expect(response.answers.allSatisfy { $0.name == "_pop3s._tcp.example.org" })
    }

    @Test func addressesAndCNAMEsAreRead() throws {
        let query = try DNSMessage.query(id: 9, name: "mail.example.org", type: .aaaa)
        let answers = [
            Self.record(type: 5, data: Self.name("real.example.org")),
            Self.record(
                type: 28,
                data: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1],
                owner: Self.name("real.example.org")
            ),
        ]
        let response = try DNSMessage.parse(
            Self.response(to: query, answers: answers),
            id: 9,
            name: "mail.example.org",
            type: .aaaa
        )
        #expect(response.answers.map(\.data) == [.cname("real.example.org"), .address("2001:db8::1")])
    }

    @Test func responseCodeAndTruncationAreReported() throws {
        let query = try DNSMessage.query(id: 1, name: "nosuch.example", type: .a)
        let nxdomain = try DNSMessage.parse(Self.response(to: query, rcode: 3), id: 1, name: "nosuch.example", type: .a)
        #expect(nxdomain.responseCode == DNSResponse.nameError)
        let truncated = try DNSMessage.parse(
            Self.response(to: query, truncated: true),
            id: 1,
            name: "nosuch.example",
            type: .a
        )
        #expect(truncated.truncated)
    }

    @Test func answersToAnotherQueryAreRejected() throws {
        let query = try DNSMessage.query(id: 1, name: "a.example", type: .a)
        let bytes = Self.response(to: query)
        #expect(throws: DNSError.self) { try DNSMessage.parse(bytes, id: 2, name: "a.example", type: .a) }
        #expect(throws: DNSError.self) { try DNSMessage.parse(bytes, id: 1, name: "b.example", type: .a) }
        #expect(throws: DNSError.self) { try DNSMessage.parse(bytes, id: 1, name: "a.example", type: .aaaa) }
        // Upper case in the answer is the same name (RFC 4343).
        #expect(throws: Never.self) { try DNSMessage.parse(bytes, id: 1, name: "A.EXAMPLE.", type: .a) }
    }

    @Test func hostileMessagesAreRejected() throws {
        let query = try DNSMessage.query(id: 3, name: "a.example", type: .a)
        let good = Self.response(to: query, answers: [Self.record(type: 1, data: [127, 0, 0, 1])])
        // Cut anywhere: an error, never a crash.
        for length in 0..<good.count {
            #expect(throws: DNSError.self) {
                try DNSMessage.parse(Array(good.prefix(length)), id: 3, name: "a.example", type: .a)
            }
        }
        // A name that points at itself.
        var selfPointer = Self.response(to: query)
        selfPointer[7] = 1  // ANCOUNT
        let ownerOffset = selfPointer.count
        selfPointer += [0xC0, UInt8(ownerOffset)] + [0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]
        #expect(throws: DNSError.self) { try DNSMessage.parse(selfPointer, id: 3, name: "a.example", type: .a) }
        // A record longer than the message.
        var long = good
        long[long.count - 5] = 0xFF
        #expect(throws: DNSError.self) { try DNSMessage.parse(long, id: 3, name: "a.example", type: .a) }
    }

    @Test(arguments: [
        ([UInt8](repeating: 0, count: 15) + [1], "::1"),
        ([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], "2001:db8::1:0:0:1"),
        ([0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [0x0a], "fe80::a"),
        ([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8], "1:2:3:4:5:6:7:8"),
        ([0, 1, 0, 0, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8], "1:0:3:4:5:6:7:8"),
    ])
    func ipv6TextFormFollowsRFC5952(_ bytes: [UInt8], _ text: String) {
        #expect(DNSMessage.formatIPv6(bytes) == text)
    }
}
