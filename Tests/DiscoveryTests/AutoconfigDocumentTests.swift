import Testing

@testable import Discovery

@Suite("autoconfig documents")
struct AutoconfigDocumentTests {
    static let document = """
        <?xml version="1.0" encoding="UTF-8"?>
        <!-- Thunderbird's config-v1.1.xml -->
        <clientConfig version="1.1">
          <emailProvider id="example.org">
            <domain>example.org</domain>
            <incomingServer type="imap">
              <hostname>imap.example.org</hostname><port>993</port><socketType>SSL</socketType>
              <username>%EMAILADDRESS%</username>
            </incomingServer>
            <incomingServer type="pop3">
              <hostname> pop.%EMAILDOMAIN% </hostname>
              <port>995</port>
              <socketType>SSL</socketType>
              <username>%EMAILLOCALPART%</username>
              <authentication>password-cleartext</authentication>
              <authentication>OAuth2</authentication>
              <pop3><leaveMessagesOnServer>true</leaveMessagesOnServer></pop3>
            </incomingServer>
            <incomingServer type="pop3">
              <hostname>POP3.Example.org</hostname><port>110</port><socketType>STARTTLS</socketType>
              <username>%EMAILADDRESS%</username>
            </incomingServer>
            <incomingServer type="pop3">
              <hostname>old.example.org</hostname><port>110</port><socketType>plain</socketType>
            </incomingServer>
            <incomingServer type="pop3">
              <hostname>broken.example.org</hostname><port>99999</port><socketType>SSL</socketType>
            </incomingServer>
            <incomingServer type="pop3">
              <hostname>weird.example.org</hostname><port>995</port><socketType>TLS-ish</socketType>
            </incomingServer>
            <outgoingServer type="smtp"><hostname>smtp.example.org</hostname></outgoingServer>
          </emailProvider>
        </clientConfig>
        """

    @Test func pop3ServersAreReadWithPlaceholdersReplaced() throws {
        let parsed = try AutoconfigDocument(parsing: Array(Self.document.utf8), localPart: "al", domain: "example.org")
        #expect(
            parsed.servers == [
                .init(
                    hostname: "pop.example.org",
                    port: 995,
                    socketType: .ssl,
                    username: "al",
                    authentication: ["password-cleartext", "OAuth2"]
                ),
                .init(
                    hostname: "pop3.example.org",
                    port: 110,
                    socketType: .startTLS,
                    username: "al@example.org",
                    authentication: []
                ),
                .init(hostname: "old.example.org", port: 110, socketType: .plain, username: nil, authentication: []),
            ]
        )
    }

    @Test(
        arguments: [
            "not xml at all", "<html><body>404</body></html>", "<emailProvider><clientConfig/></emailProvider>", "",
        ]
    )
    func otherDocumentsAreRefused(_ text: String) {
        #expect(throws: DiscoveryError.self) {
            try AutoconfigDocument(parsing: Array(text.utf8), localPart: "al", domain: "example.org")
        }
    }

    @Test func externalEntitiesAreNotFetched() throws {
        let hostile = """
            <?xml version="1.0"?>
            <!DOCTYPE clientConfig [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
            <clientConfig><emailProvider><incomingServer type="pop3">
            <hostname>&secret;</hostname><port>995</port><socketType>SSL</socketType>
            </incomingServer></emailProvider></clientConfig>
            """
        let parsed = try? AutoconfigDocument(parsing: Array(hostile.utf8), localPart: "a", domain: "b.org")
        #expect(parsed?.servers.contains { $0.hostname.contains("root") } != true)
    }
}
