// The client messages of XOAUTH2 and OAUTHBEARER (RFC 7628 §3.1).

enum OAuthPayload {
    /// kvsep = %x01 (RFC 7628 §3.1).
    static let separator: UInt8 = 0x01

    static func xoauth2(user: String, token: String) throws -> [UInt8] {
        try checkValue(user, what: "user name")
        try checkValue(token, what: "token")
        var message = Array("user=".utf8) + Array(user.utf8) + [separator]
        message += Array("auth=Bearer ".utf8) + Array(token.utf8) + [separator, separator]
        return message
    }

    static func oauthBearer(user: String, token: String, host: String?, port: Int?) throws -> [UInt8] {
        try checkValue(user, what: "user name")
        try checkValue(token, what: "token")
        // gs2-header with the authzid as a saslname (RFC 5801 §4: "," and "=" escaped).
        var message = Array("n,a=".utf8) + SCRAMSyntax.encodeSASLName(user) + Array(",".utf8) + [separator]
        if let host {
            try checkValue(host, what: "host")
            message += Array("host=".utf8) + Array(host.utf8) + [separator]
        }
        if let port {
            guard (1...65535).contains(port) else {
                throw SASLClientError.invalidCredentialCharacters("port out of range")
            }
            message += Array("port=\(port)".utf8) + [separator]
        }
        message += Array("auth=Bearer ".utf8) + Array(token.utf8) + [separator, separator]
        return message
    }

    /// Values are VCHAR / SP (RFC 7628 §3.1 allows HTAB, CR, LF too, but no caller needs them and
    /// they would make the message ambiguous to lenient servers).
    private static func checkValue(_ value: String, what: String) throws {
        guard !value.isEmpty else {
            throw SASLClientError.invalidCredentialCharacters("empty \(what)")
        }
        for byte in value.utf8 where byte < 0x20 || byte == 0x7F {
            throw SASLClientError.invalidCredentialCharacters("control character in \(what)")
        }
    }
}
