import Testing

@testable import Discovery

@Suite("addresses, resolvers and SRV order")
struct AddressTests {
    @Test(
        arguments: [
            ("alice@Example.ORG", "alice", "example.org"), ("\"a@b\"@example.org", "\"a@b\"", "example.org"),
            ("al.ice+tag@mail.example.org.", "al.ice+tag", "mail.example.org"),
        ]
    )
    func mailAddresses(_ text: String, _ local: String, _ domain: String) throws {
        let address = try #require(MailAddress(text))
        #expect(address.localPart == local)
        #expect(address.domain == domain)
    }

    @Test(arguments: ["alice", "@example.org", "alice@", "a@b..org", "a@.org", "a@exa mple.org", "a@bücher.de"])
    func notMailAddresses(_ text: String) {
        #expect(MailAddress(text) == nil)
    }

    @Test func hostsInsideTheDomain() throws {
        let address = try #require(MailAddress("al@example.org"))
        #expect(address.contains(host: "example.org"))
        #expect(address.contains(host: "POP.example.org"))
        #expect(!address.contains(host: "pop.example.org.evil.test"))
        #expect(!address.contains(host: "notexample.org"))
    }

    @Test(
        arguments: [
            ("127.0.0.1", "127.0.0.1", 53), ("127.0.0.1:5353", "127.0.0.1", 5353), ("::1", "::1", 53),
            ("[::1]:5353", "::1", 5353), ("[2001:db8::1]", "2001:db8::1", 53),
        ]
    )
    func resolverAddresses(_ text: String, _ host: String, _ port: Int) throws {
        let address = try #require(DNSServerAddress(parsing: text))
        #expect(address.host == host && address.port == port)
    }

    @Test(arguments: ["localhost:53", "127.0.0.1:0", "127.0.0.1:70000", "[::1", "[::1]x", "dns.example:53", ""])
    func notResolverAddresses(_ text: String) {
        #expect(DNSServerAddress(parsing: text) == nil)
    }

    @Test func resolvConfNameservers() {
        let text = """
            # generated
            search example.org
            nameserver 10.0.0.53
            nameserver   2001:db8::53
            nameserver fe80::1%eth0
            ; nameserver 10.9.9.9
            nameserver 10.0.0.54
            nameserver 10.0.0.55
            options edns0
            """
        #expect(
            DNSClient.nameservers(resolvConf: text) == [
                DNSServerAddress(host: "10.0.0.53"), DNSServerAddress(host: "2001:db8::53"),
                DNSServerAddress(host: "10.0.0.54"),
            ]
        )
        #expect(DNSClient.nameservers(resolvConf: "") == [DNSServerAddress(host: "127.0.0.1")])
    }

    @Test func srvOrderIsByPriorityThenWeight() {
        let records = [
            SRVRecord(priority: 20, weight: 0, port: 995, target: "backup.example.org"),
            SRVRecord(priority: 10, weight: 60, port: 995, target: "a.example.org"),
            SRVRecord(priority: 10, weight: 40, port: 995, target: "b.example.org"),
        ]
        var counts: [String: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<400 {
            let ordered = records.orderedForUse(using: &generator)
            #expect(ordered.count == 3)
            #expect(ordered.last?.target == "backup.example.org")
            counts[ordered[0].target, default: 0] += 1
        }
        // Weighted 60:40; with 400 draws both come first often, a more often than not.
        #expect(counts["a.example.org", default: 0] > 160 && counts["b.example.org", default: 0] > 80)
    }

    @Test func aDotTargetMeansNoService() {
        #expect([SRVRecord(priority: 0, weight: 0, port: 0, target: ".")].orderedForUse().isEmpty)
    }
}
