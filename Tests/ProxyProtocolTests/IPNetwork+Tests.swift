import NIOCore
import ProxyProtocol
import Testing

@Suite struct IPNetworkTests {
    private func address(_ text: String) throws -> SocketAddress { try SocketAddress(ipAddress: text, port: 1) }

    @Test func ipv4Networks() throws {
        let network = try #require(IPNetwork("10.1.0.0/16"))
        #expect(network.contains(try address("10.1.255.3")))
        #expect(!network.contains(try address("10.2.0.1")))
        #expect(network.contains(try address("::ffff:10.1.2.3")), "an IPv4-mapped peer on a :: listener")
        #expect(!network.contains(try address("2001:db8::1")))
        #expect(network.description == "10.1.0.0/16")
        let single = try #require(IPNetwork("127.0.0.1"))
        #expect(single.prefixLength == 32)
        #expect(single.contains(try address("127.0.0.1")))
        #expect(!single.contains(try address("127.0.0.2")))
        #expect(IPNetwork("0.0.0.0/0")?.contains(try address("203.0.113.9")) == true)
    }

    @Test func ipv6Networks() throws {
        let network = try #require(IPNetwork("2001:db8:1::/48"))
        #expect(network.contains(try address("2001:db8:1:ffff::1")))
        #expect(!network.contains(try address("2001:db8:2::1")))
        #expect(!network.contains(try address("10.0.0.1")))
        #expect(IPNetwork("::1")?.contains(try address("::1")) == true)
        #expect(IPNetwork("2001:db8::/33")?.contains(try address("2001:db8:7fff::1")) == true)
        #expect(IPNetwork("2001:db8::/33")?.contains(try address("2001:db8:8000::1")) == false)
    }

    @Test(arguments: [
        "", "10.0.0.0/33", "10.0.0.1/8", "10.0.0.0/", "10.0.0.0/x", "host.example/8", "::/129", "10.0.0.0/-1",
    ])
    func refused(_ text: String) {
        #expect(IPNetwork(text) == nil)
    }
}
