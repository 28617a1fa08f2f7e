// A small stub resolver: asks one recursive DNS server at a time over UDP (RFC 1035 §4.2.1),
// again over TCP when the answer was truncated (RFC 7766 §5), with a deadline per attempt.

import FileIO
import NIOCore
import NIOPosix
import SystemPackage

/// A DNS server to ask: an IP address and a port.
public struct DNSServerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int = 53) {
        self.host = host
        self.port = port
    }

    /// `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address; the host must be an IP address.
    public init?(parsing text: String) {
        var host = Substring(text)
        var port = 53
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()) else { return nil }
                port = value
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        guard (1...65535).contains(port), (try? SocketAddress(ipAddress: String(host), port: port)) != nil else {
            return nil
        }
        self.init(host: String(host), port: port)
    }

    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}

/// Asks DNS servers for SRV and address records.
public struct DNSClient: Sendable {
    /// How long one attempt waits for an answer, unless changed.
    public static let defaultAttemptTimeout: Duration = .seconds(3)
    /// Attempts per server (UDP loses packets; RFC 1123 §6.1.3.3 wants retransmission).
    public static let attemptsPerServer = 2
    /// The longest DNS message read over TCP (its length prefix is 16 bits; RFC 1035 §4.2.2).
    static let maximumTCPMessage = 65_535
    /// The most CNAME records followed from the name asked for to the records wanted.
    static let maximumCNAMEChain = 8
    /// The servers of resolv.conf that are used, as the C library does (`MAXNS`).
    static let maximumServers = 3

    /// The servers asked, in order, until one answers.
    public var servers: [DNSServerAddress]
    /// How long one attempt waits for an answer.
    public var attemptTimeout: Duration

    public init(servers: [DNSServerAddress], attemptTimeout: Duration = DNSClient.defaultAttemptTimeout) {
        self.servers = servers
        self.attemptTimeout = attemptTimeout
    }

    /// The servers `/etc/resolv.conf` names (`nameserver` lines), or the local one when it names
    /// none, as the C library does (resolv.conf(5)).
    public static func system(resolvConf path: String = "/etc/resolv.conf") async -> DNSClient {
        let bytes =
            (try? await BlockingIO.run { try FileSystem.readFileIfExists(FilePath(path), limit: 1 << 20) }) ?? nil
        return DNSClient(servers: Self.nameservers(resolvConf: String(decoding: bytes?.bytes ?? [], as: UTF8.self)))
    }

    static func nameservers(resolvConf text: String) -> [DNSServerAddress] {
        var servers: [DNSServerAddress] = []
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver", !fields[0].hasPrefix("#") else { continue }
            // A link-local IPv6 server carries a zone (`fe80::1%eth0`), which we cannot use.
            let address = String(fields[1])
            guard !address.contains("%"),
                let server = DNSServerAddress(parsing: address.contains(":") ? "[\(address)]" : address)
            else { continue }
            servers.append(server)
            if servers.count == Self.maximumServers { break }
        }
        return servers.isEmpty ? [DNSServerAddress(host: "127.0.0.1")] : servers
    }

    /// The SRV records of `name` (RFC 2782), in answer order; empty when the name has none.
    public func srv(_ name: String) async throws(DNSError) -> [SRVRecord] {
        let records = try await self.records(name, type: .srv)
        return records.compactMap { if case .srv(let record) = $0 { record } else { nil } }
    }

    /// The IPv4 and IPv6 addresses of `host` (A, then AAAA); empty when it has none.
    public func addresses(_ host: String) async throws(DNSError) -> [String] {
        var found: [String] = []
        var firstError: DNSError?
        for type in [DNSRecordType.a, .aaaa] {
            do throws(DNSError) {
                for record in try await self.records(host, type: type) {
                    if case .address(let address) = record { found.append(address) }
                }
            } catch {
                firstError = firstError ?? error
            }
        }
        if found.isEmpty, let firstError { throw firstError }
        return found
    }

    /// The records of `type` for `name`, following CNAMEs in the answer.
    func records(_ name: String, type: DNSRecordType) async throws(DNSError) -> [DNSRecordData] {
        let response = try await self.query(name, type: type)
        if response.responseCode == DNSResponse.nameError { return [] }
        guard response.responseCode == DNSResponse.noError else {
            throw DNSError("the DNS server answered \(Self.describe(rcode: response.responseCode)) for \(name)")
        }
        var owner = name
        for _ in 0...Self.maximumCNAMEChain {
            let matching = response.answers.filter { DNSMessage.same($0.name, owner) }
            let wanted = matching.filter { $0.type == type }.map(\.data)
            if !wanted.isEmpty { return wanted }
            guard
                let alias = matching.lazy.compactMap({ if case .cname(let next) = $0.data { next } else { nil } }).first
            else { return [] }
            owner = alias
        }
        return []
    }

    private static func describe(rcode: UInt8) -> String {
        switch rcode {
        case 1: "FORMERR (it did not understand the question)"
        case 2: "SERVFAIL (it could not find out)"
        case 4: "NOTIMP"
        case 5: "REFUSED (it does not answer for us)"
        default: "RCODE \(rcode)"
        }
    }

    /// Asks each server in turn (each up to `attemptsPerServer` times) until one answers.
    func query(_ name: String, type: DNSRecordType) async throws(DNSError) -> DNSResponse {
        let id = UInt16.random(in: 0...UInt16.max)
        let question = try DNSMessage.query(id: id, name: name, type: type)
        var lastError = DNSError("no DNS server is configured")
        for server in self.servers {
            for _ in 0..<Self.attemptsPerServer {
                do {
                    var response = try DNSMessage.parse(
                        try await Self.exchangeUDP(question, with: server, timeout: self.attemptTimeout),
                        id: id,
                        name: name,
                        type: type
                    )
                    if response.truncated {
                        response = try DNSMessage.parse(
                            try await Self.exchangeTCP(question, with: server, timeout: self.attemptTimeout),
                            id: id,
                            name: name,
                            type: type
                        )
                    }
                    return response
                } catch let error as DNSError {
                    lastError = error
                } catch {
                    lastError = DNSError("the DNS server \(server) did not answer: \(error)")
                }
            }
        }
        throw lastError
    }

    /// One UDP question and its answer, from a socket connected to the server (so the kernel
    /// drops datagrams from anyone else).
    static func exchangeUDP(
        _ question: [UInt8],
        with server: DNSServerAddress,
        timeout: Duration
    ) async throws -> [UInt8] {
        let address = try SocketAddress(ipAddress: server.host, port: server.port)
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        let deadline = channel.channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            channel.channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: question)))
            for try await envelope in inbound {
                // A stray datagram (an answer to an earlier attempt) is not an error: wait on.
                let bytes = Array(envelope.data.readableBytesView)
                if bytes.count >= 2, bytes[0] == question[0], bytes[1] == question[1] { return bytes }
            }
            throw DNSError("the DNS server \(server) did not answer within \(timeout)")
        }
    }

    /// One question over TCP: a two-octet length before each message (RFC 1035 §4.2.2).
    static func exchangeTCP(
        _ question: [UInt8],
        with server: DNSServerAddress,
        timeout: Duration
    ) async throws -> [UInt8] {
        let address = try SocketAddress(ipAddress: server.host, port: server.port)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(timeout))
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let deadline = channel.channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            channel.channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            var framed = ByteBuffer()
            framed.writeInteger(UInt16(question.count))
            framed.writeBytes(question)
            try await outbound.write(framed)
            var received = ByteBuffer()
            for try await var chunk in inbound {
                received.writeBuffer(&chunk)
                guard received.readableBytes <= Self.maximumTCPMessage + 2 else { break }
                if let length = received.getInteger(at: received.readerIndex, as: UInt16.self),
                    received.readableBytes >= Int(length) + 2
                {
                    return Array(received.readableBytesView.dropFirst(2).prefix(Int(length)))
                }
            }
            throw DNSError("the DNS server \(server) did not answer over TCP within \(timeout)")
        }
    }
}
