// LMTPCore: the commands an LMTP client sends (RFC 2033 §4, RFC 5321 §4.1.1).

/// One command line, parsed. Keywords are case-insensitive (RFC 5321 §2.4).
///
/// - SeeAlso: [RFC 2033 §4](https://datatracker.ietf.org/doc/html/rfc2033#section-4),
///   [RFC 5321 §4.1.1](https://datatracker.ietf.org/doc/html/rfc5321#section-4.1.1)
public enum Command: Hashable, Sendable {
    /// `LHLO domain`: LMTP's EHLO (RFC 2033 §4.1); the client's name is not checked.
    case lhlo(String)
    /// `HELO` or `EHLO`: not part of LMTP, and never answered with 2xx (RFC 2033 §4.1).
    case smtpHello(keyword: String)
    /// `MAIL FROM:<reverse-path> [parameters]` (RFC 5321 §4.1.1.2).
    case mail(from: ReversePath, parameters: MailParameters)
    /// `RCPT TO:<forward-path>` (RFC 5321 §4.1.1.3). No RCPT parameters are supported.
    case rcpt(to: Mailbox)
    /// `DATA` (RFC 5321 §4.1.1.4, RFC 2033 §4.2).
    case data
    /// `RSET` (RFC 5321 §4.1.1.5).
    case rset
    /// `VRFY string` (RFC 5321 §4.1.1.6): answered without saying whether a user exists.
    case vrfy
    /// `EXPN string` (RFC 5321 §4.1.1.7): not implemented.
    case expn
    /// `HELP [string]` (RFC 5321 §4.1.1.8).
    case help
    /// `NOOP [string]` (RFC 5321 §4.1.1.9).
    case noop
    /// `QUIT` (RFC 5321 §4.1.1.10).
    case quit
    /// Any other keyword (BDAT, STARTTLS, AUTH, ...): not recognised here.
    case unknown(keyword: String)
}

/// The reverse-path of MAIL FROM: a mailbox, or `<>` for notifications such as bounces
/// (RFC 5321 §4.5.5).
public enum ReversePath: Hashable, Sendable, CustomStringConvertible {
    case null
    case mailbox(Mailbox)

    /// The path in angle brackets, as a `Return-Path:` field carries it (RFC 5322 §3.6.7).
    public var description: String {
        switch self {
        case .null: "<>"
        case .mailbox(let mailbox): "<\(mailbox.address)>"
        }
    }
}

/// The MAIL FROM parameters this server knows.
public struct MailParameters: Hashable, Sendable {
    /// The body types of RFC 6152 §2 (`BODY=`).
    public enum Body: Hashable, Sendable {
        case sevenBit
        case eightBitMIME
    }

    /// `SIZE=n`: the client's estimate of the message size in octets (RFC 1870 §6).
    public var size: Int?
    /// `BODY=7BIT` or `BODY=8BITMIME` (RFC 6152 §2).
    public var body: Body?

    public init(size: Int? = nil, body: Body? = nil) {
        self.size = size
        self.body = body
    }
}
