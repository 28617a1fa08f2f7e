// POP3Core: the POP3 command vocabulary (RFC 1939, RFC 2449, RFC 2595, RFC 5034, RFC 6856).
import struct NIOCore.ByteBuffer

/// One POP3 command as a client sends it, with typed arguments.
///
/// Keywords are case-insensitive (RFC 1939 §3); ``CommandParser`` turns a line into a
/// `Command` and `ByteBuffer.writePOP3Command(_:)` turns it back into wire bytes.
///
/// A SASL continuation line is not a command: see ``ClientLine``.
public enum Command: Hashable, Sendable {
    /// Names the mailbox for a following `PASS`.
    ///
    /// Valid in AUTHORIZATION. `+OK` (whether or not the user exists) or `-ERR`.
    /// ```
    /// C: USER mrose
    /// S: +OK mrose is a real hoopy frood
    /// ```
    /// - SeeAlso: [RFC 1939 §7](https://datatracker.ietf.org/doc/html/rfc1939#section-7)
    case user(String)

    /// The password for the name given by `USER`: the rest of the line, spaces included.
    ///
    /// Valid in AUTHORIZATION right after `USER`. `+OK` (now in TRANSACTION) or `-ERR`.
    /// ```
    /// C: PASS secret
    /// S: +OK mrose's maildrop has 2 messages (320 octets)
    /// ```
    /// - SeeAlso: [RFC 1939 §7](https://datatracker.ietf.org/doc/html/rfc1939#section-7)
    case pass([UInt8])

    /// Authenticates with an MD5 digest of the greeting's timestamp and a shared secret.
    ///
    /// Valid in AUTHORIZATION. `+OK` (now in TRANSACTION) or `-ERR`.
    /// ```
    /// C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
    /// S: +OK maildrop has 1 message (369 octets)
    /// ```
    /// - SeeAlso: [RFC 1939 §7](https://datatracker.ietf.org/doc/html/rfc1939#section-7)
    case apop(name: String, digest: String)

    /// Starts a SASL exchange. `initialResponse` holds decoded bytes: `nil` when the client
    /// sent none, `[]` for `=` (a zero-length initial response).
    ///
    /// Valid in AUTHORIZATION. `+ challenge` continuations, then `+OK` or `-ERR`.
    /// ```
    /// C: AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=
    /// S: +OK Maildrop locked and ready
    /// ```
    /// - SeeAlso: [RFC 5034 §4](https://datatracker.ietf.org/doc/html/rfc5034#section-4)
    case auth(mechanism: String, initialResponse: [UInt8]?)

    /// Starts TLS on a plaintext connection.
    ///
    /// Valid in AUTHORIZATION before any TLS. `+OK` then the TLS handshake, or `-ERR`.
    /// ```
    /// C: STLS
    /// S: +OK Begin TLS negotiation
    /// ```
    /// - SeeAlso: [RFC 2595 §4](https://datatracker.ietf.org/doc/html/rfc2595#section-4)
    case stls

    /// Lists the server's capabilities as they are for this connection now.
    ///
    /// Valid in AUTHORIZATION and TRANSACTION. `+OK` and a multi-line list.
    /// ```
    /// C: CAPA
    /// S: +OK Capability list follows
    /// S: TOP
    /// S: .
    /// ```
    /// - SeeAlso: [RFC 2449 §5](https://datatracker.ietf.org/doc/html/rfc2449#section-5)
    case capa

    /// Number of messages and their total size, deleted messages excluded.
    ///
    /// Valid in TRANSACTION. `+OK nn mm`.
    /// ```
    /// C: STAT
    /// S: +OK 2 320
    /// ```
    /// - SeeAlso: [RFC 1939 §5](https://datatracker.ietf.org/doc/html/rfc1939#section-5)
    case stat

    /// The size of one message, or a multi-line list of all messages when `nil`.
    ///
    /// Valid in TRANSACTION. `+OK n size`, `+OK` and a list, or `-ERR no such message`.
    /// ```
    /// C: LIST 2
    /// S: +OK 2 200
    /// ```
    /// - SeeAlso: [RFC 1939 §5](https://datatracker.ietf.org/doc/html/rfc1939#section-5)
    case list(MessageNumber?)

    /// The unique-id of one message, or a multi-line list of all when `nil`.
    ///
    /// Valid in TRANSACTION. `+OK n uid`, `+OK` and a list, or `-ERR no such message`.
    /// ```
    /// C: UIDL 2
    /// S: +OK 2 QhdPYR:00WBw1Ph7x7
    /// ```
    /// - SeeAlso: [RFC 1939 §7](https://datatracker.ietf.org/doc/html/rfc1939#section-7)
    case uidl(MessageNumber?)

    /// The whole message, dot-stuffed.
    ///
    /// Valid in TRANSACTION. `+OK` and the message, or `-ERR no such message`.
    /// ```
    /// C: RETR 1
    /// S: +OK 120 octets
    /// S: <the POP3 server sends the entire message here>
    /// S: .
    /// ```
    /// - SeeAlso: [RFC 1939 §5](https://datatracker.ietf.org/doc/html/rfc1939#section-5)
    case retr(MessageNumber)

    /// The header, the blank line and the first `lines` lines of the body.
    ///
    /// Valid in TRANSACTION. `+OK` and the lines, or `-ERR no such message`.
    /// ```
    /// C: TOP 1 10
    /// S: +OK
    /// S: <the POP3 server sends the headers of the message, a blank line, and the first 10 lines of the body>
    /// S: .
    /// ```
    /// - SeeAlso: [RFC 1939 §7](https://datatracker.ietf.org/doc/html/rfc1939#section-7)
    case top(MessageNumber, lines: Int)

    /// Marks a message as deleted; it is removed only in the UPDATE state.
    ///
    /// Valid in TRANSACTION. `+OK message deleted` or `-ERR`.
    /// ```
    /// C: DELE 1
    /// S: +OK message 1 deleted
    /// ```
    /// - SeeAlso: [RFC 1939 §5](https://datatracker.ietf.org/doc/html/rfc1939#section-5)
    case dele(MessageNumber)

    /// Does nothing.
    ///
    /// Valid in TRANSACTION. `+OK`.
    /// ```
    /// C: NOOP
    /// S: +OK
    /// ```
    /// - SeeAlso: [RFC 1939 §5](https://datatracker.ietf.org/doc/html/rfc1939#section-5)
    case noop

    /// Unmarks every message marked as deleted.
    ///
    /// Valid in TRANSACTION. `+OK`.
    /// ```
    /// C: RSET
    /// S: +OK maildrop has 2 messages (320 octets)
    /// ```
    /// - SeeAlso: [RFC 1939 §5](https://datatracker.ietf.org/doc/html/rfc1939#section-5)
    case rset

    /// Ends the session; in TRANSACTION it enters UPDATE and removes the deleted messages.
    ///
    /// Valid in every state. `+OK` or `-ERR some deleted messages not removed`.
    /// ```
    /// C: QUIT
    /// S: +OK dewey POP3 server signing off (maildrop empty)
    /// ```
    /// - SeeAlso: [RFC 1939 §6](https://datatracker.ietf.org/doc/html/rfc1939#section-6)
    case quit

    /// Enables UTF-8 mode.
    ///
    /// Valid in AUTHORIZATION. `+OK` or `-ERR`.
    /// - SeeAlso: [RFC 6856 §2](https://datatracker.ietf.org/doc/html/rfc6856#section-2)
    case utf8

    /// Lists (`nil`) or selects a response language.
    ///
    /// Valid in every state. `+OK` or `-ERR`.
    /// - SeeAlso: [RFC 6856 §3](https://datatracker.ietf.org/doc/html/rfc6856#section-3)
    case lang(String?)

    /// A syntactically valid command with a keyword this library does not know, so a server
    /// can answer `-ERR` instead of dropping the connection. `keyword` is upper-cased.
    ///
    /// - SeeAlso: [RFC 2449 §3](https://datatracker.ietf.org/doc/html/rfc2449#section-3)
    case unknown(keyword: String, arguments: [String])
}

extension Command {
    /// The upper-case keyword of this command, as sent on the wire.
    public var keyword: String {
        switch self {
        case .user: return "USER"
        case .pass: return "PASS"
        case .apop: return "APOP"
        case .auth: return "AUTH"
        case .stls: return "STLS"
        case .capa: return "CAPA"
        case .stat: return "STAT"
        case .list: return "LIST"
        case .uidl: return "UIDL"
        case .retr: return "RETR"
        case .top: return "TOP"
        case .dele: return "DELE"
        case .noop: return "NOOP"
        case .rset: return "RSET"
        case .quit: return "QUIT"
        case .utf8: return "UTF8"
        case .lang: return "LANG"
        case .unknown(let keyword, _): return keyword
        }
    }

    /// A form safe to log: passwords, APOP digests and SASL payloads are replaced by their
    /// length (GUIDE B3, DESIGN invariant 6).
    public var descriptionWithoutPII: String {
        switch self {
        case .pass(let bytes): return "PASS *** [\(bytes.count) bytes]"
        case .apop(let name, _): return "APOP \(name) ***"
        case .auth(let mechanism, let initial):
            if let initial { return "AUTH \(mechanism) [\(initial.count) bytes]" }
            return "AUTH \(mechanism)"
        case .unknown(let keyword, let arguments): return "\(keyword) [\(arguments.count) arguments]"
        default:
            var buffer = ByteBuffer()
            buffer.writePOP3Command(self)
            // Drop the CRLF.
            return String(decoding: buffer.readableBytesView.dropLast(2), as: UTF8.self)
        }
    }
}

extension Command: CustomDebugStringConvertible {
    /// The redacted form (``descriptionWithoutPII``), so a stray print never leaks a secret.
    public var debugDescription: String { descriptionWithoutPII }
}
