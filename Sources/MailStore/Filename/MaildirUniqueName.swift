// Generating Maildir unique names ("Using maildir format", cr.yp.to: "How are unique names
// created?"), in the modern `time.M<usec>P<pid>Q<n>.host` form that Dovecot also writes.

import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Deliveries made by this process: the `Q` field of the names it generates.
private let deliveriesInThisProcess = Atomic<Int>(0)

/// Makes unique names for new Maildir files.
public enum MaildirUniqueName {
    /// Formats `seconds.M<microseconds>P<processID>Q<deliveryCount>.<escaped host>`.
    public static func format(
        seconds: Int,
        microseconds: Int,
        processID: Int,
        deliveryCount: Int,
        host: String
    ) -> String {
        "\(seconds).M\(microseconds)P\(processID)Q\(deliveryCount).\(Self.escapeHostname(host))"
    }

    /// Escapes a host name for the right-hand part of a unique name.
    ///
    /// `/` becomes `\057` and `:` becomes `\072`, as qmail and Dovecot write them. We also escape
    /// `,` (`\054`, which would start a `,S=`-style field), `\` itself (`\134`), and every byte
    /// outside 0x21–0x7E, so a generated name is always a valid POP3 unique-id (RFC 1939 §7) as
    /// far as the host is concerned. An empty host becomes `localhost`.
    public static func escapeHostname(_ host: String) -> String {
        guard !host.isEmpty else { return "localhost" }
        var result = ""
        result.reserveCapacity(host.utf8.count)
        for byte in host.utf8 {
            switch byte {
            case UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "\\"), ..<0x21, 0x7F...:
                result += "\\" + Self.octal(byte)
            default:
                result.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return result
    }

    /// A new unique name from the real-time clock, this process's ID, a per-process delivery
    /// counter and the host name (`gethostname` when `host` is `nil`).
    public static func generate(host: String? = nil) -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let count = deliveriesInThisProcess.wrappingAdd(1, ordering: .relaxed).newValue
        return Self.format(
            seconds: Int(now.tv_sec),
            microseconds: Int(now.tv_nsec) / 1000,
            processID: Int(getpid()),
            deliveryCount: count,
            host: host ?? Self.currentHostname()
        )
    }

    /// This machine's host name, or `localhost` when it has none.
    public static func currentHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? "localhost" : String(decoding: bytes, as: UTF8.self)
    }

    private static func octal(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 8)
        return String(repeating: "0", count: 3 - digits.count) + digits
    }
}
