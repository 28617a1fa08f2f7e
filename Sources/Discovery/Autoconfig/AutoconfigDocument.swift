// Thunderbird's autoconfig file (`config-v1.1.xml`): the POP3 servers an e-mail provider
// publishes for its addresses. Read with the platform's XML parser; only what POP3 needs is kept.

import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The POP3 servers of an autoconfig document, in the document's order (its order of preference).
public struct AutoconfigDocument: Hashable, Sendable {
    /// One `<incomingServer type="pop3">`.
    public struct IncomingServer: Hashable, Sendable {
        /// `SSL` (implicit TLS), `STARTTLS` or `plain`.
        public enum SocketType: String, Hashable, Sendable {
            case ssl = "SSL"
            case startTLS = "STARTTLS"
            case plain
        }
        public var hostname: String
        public var port: Int
        public var socketType: SocketType
        /// The user name with the placeholders replaced, when the document names one.
        public var username: String?
        /// `password-cleartext`, `OAuth2`, ... as the document says.
        public var authentication: [String]
    }

    /// The most servers read from one document.
    static let maximumServers = 16

    public var servers: [IncomingServer]

    /// Parses `bytes` for the address `localPart@domain`: `%EMAILADDRESS%`, `%EMAILLOCALPART%`
    /// and `%EMAILDOMAIN%` are replaced. Entries without a usable host name, port or socket type
    /// are left out; a document that is not XML throws.
    public init(parsing bytes: [UInt8], localPart: String, domain: String) throws(DiscoveryError) {
        let collector = Collector()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldResolveExternalEntities = false
        parser.delegate = collector
        guard parser.parse(), collector.sawClientConfig else {
            throw DiscoveryError("the autoconfig document is not a clientConfig XML file")
        }
        func substitute(_ text: String) -> String {
            text.replacingOccurrences(of: "%EMAILADDRESS%", with: "\(localPart)@\(domain)")
                .replacingOccurrences(of: "%EMAILLOCALPART%", with: localPart)
                .replacingOccurrences(of: "%EMAILDOMAIN%", with: domain)
        }
        self.servers = collector.servers.prefix(Self.maximumServers).compactMap { raw in
            guard let host = raw["hostname"].map(substitute), !host.isEmpty, !host.contains(" "),
                let port = raw["port"].flatMap({ Int($0) }), (1...65535).contains(port),
                let socketType = raw["socketType"].flatMap({ IncomingServer.SocketType(rawValue: $0) })
            else { return nil }
            return IncomingServer(
                hostname: host.lowercased(),
                port: port,
                socketType: socketType,
                username: raw["username"].map(substitute).flatMap { $0.isEmpty ? nil : $0 },
                authentication: raw.authentication
            )
        }
    }

    /// SAX-style collection of `clientConfig/emailProvider/incomingServer[@type=pop3]` children.
    private final class Collector: NSObject, XMLParserDelegate {
        struct Raw {
            var fields: [String: String] = [:]
            var authentication: [String] = []
            subscript(name: String) -> String? { self.fields[name] }
        }
        var servers: [Raw] = []
        var sawClientConfig = false
        private var path: [String] = []
        private var current: Raw?
        private var text = ""

        func parser(
            _ parser: XMLParser,
            didStartElement name: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            self.path.append(name)
            self.text = ""
            if self.path == ["clientConfig"] { self.sawClientConfig = true }
            if self.path == ["clientConfig", "emailProvider", "incomingServer"], attributes["type"] == "pop3" {
                self.current = Raw()
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            // Bounded: a field of a server entry is a host name, a port or a user name.
            if self.text.utf8.count < 1024 { self.text += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            defer { self.path.removeLast() }
            let value = self.text.trimmingCharacters(in: .whitespacesAndNewlines)
            self.text = ""
            guard self.current != nil else { return }
            if self.path.count == 3 {
                if let finished = self.current { self.servers.append(finished) }
                self.current = nil
            } else if self.path.count == 4 {
                if name == "authentication" {
                    self.current?.authentication.append(value)
                } else if self.current?.fields[name] == nil {
                    self.current?.fields[name] = value
                }
            }
        }
    }
}
