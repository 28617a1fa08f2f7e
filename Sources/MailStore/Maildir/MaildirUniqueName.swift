// Generating Maildir unique names ("Using maildir format", cr.yp.to: "How are unique names
// created?"): the modern `time.M<usec>P<pid>Q<n>.host` form that Dovecot also writes, and the
// `time.<identifier>.host` form for callers whose identifier is their own (fetch derives it from
// the account and UIDL, so a rerun finds an earlier copy).

import FileIO
import Synchronization

/// Deliveries made by this process: the `Q` field of the names it generates.
private let deliveriesInThisProcess = Atomic<Int>(0)

/// Makes unique names for new Maildir files. The one place that escapes host names.
public enum MaildirUniqueName {
    /// Formats `seconds.M<microseconds>P<processID>Q<deliveryCount>.<escaped host>`.
    public static func format(
        seconds: Int,
        microseconds: Int,
        processID: Int,
        deliveryCount: Int,
        host: String
    ) -> String {
        Self.format(seconds: seconds, identifier: "M\(microseconds)P\(processID)Q\(deliveryCount)", host: host)
    }

    /// Formats `seconds.<identifier>.<escaped host>` with an identifier the caller chose. The
    /// identifier must be non-empty printable ASCII without `.`, `/`, `:`, `,` or `\` (a hash in
    /// hex, for example), so the name's three parts stay apart and it is a valid POP3 unique-id.
    public static func format(seconds: Int, identifier: String, host: String) -> String {
        precondition(Self.isValidIdentifier(identifier), "not a Maildir delivery identifier: \(identifier)")
        return "\(seconds).\(identifier).\(Self.escapeHostname(host))"
    }

    /// Whether `identifier` can be the middle part of a unique name.
    public static func isValidIdentifier(_ identifier: String) -> Bool {
        !identifier.isEmpty
            && identifier.utf8.allSatisfy { byte in
                (0x21...0x7E).contains(byte) && byte != UInt8(ascii: ".") && byte != UInt8(ascii: "/")
                    && byte != UInt8(ascii: ":") && byte != UInt8(ascii: ",") && byte != UInt8(ascii: "\\")
            }
    }

    /// Escapes a host name for the right-hand part of a unique name.
    ///
    /// `/` becomes `\057` and `:` becomes `\072`, as qmail and Dovecot write them. We also escape
    /// `,` (`\054`, which would start a `,S=`-style field), `\` itself (`\134`), and every byte
    /// outside 0x21–0x7E, so a generated name is always a valid POP3 unique-id (RFC 1939 §7) as
    /// far as the host is concerned. Dots stay: the host is everything after the second dot. An
    /// empty host becomes `localhost`.
    public static func escapeHostname(_ host: String) -> String {
        guard !host.isEmpty else { return "localhost" }
        var result: [UInt8] = []
        result.reserveCapacity(host.utf8.count)
        for byte in host.utf8 {
            switch byte {
            case UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "\\"), ..<0x21, 0x7F...:
                result.append(UInt8(ascii: "\\"))
                result.append(UInt8(ascii: "0") + (byte >> 6))
                result.append(UInt8(ascii: "0") + ((byte >> 3) & 7))
                result.append(UInt8(ascii: "0") + (byte & 7))
            default:
                result.append(byte)
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// A new unique name from the real-time clock, this process's ID, a per-process delivery
    /// counter and the host name (`gethostname` when `host` is `nil`).
    public static func generate(host: String? = nil) -> String {
        let now = FileTime.now()
        let count = deliveriesInThisProcess.wrappingAdd(1, ordering: .relaxed).newValue
        return Self.format(
            seconds: now.seconds,
            microseconds: now.nanoseconds / 1000,
            processID: SystemIdentity.processID,
            deliveryCount: count,
            host: host ?? SystemIdentity.hostName()
        )
    }
}
