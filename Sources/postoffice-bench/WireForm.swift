// What a POP3 server must send for a stored message, computed here independently of PostOffice's
// encoder: the bench checks servers, it does not share their code.

/// One stored message as a RETR answer carries it after the status line.
///
/// RFC 1939 §3: every line ends in CRLF (a stored bare LF is sent as CRLF), a line that starts
/// with "." gets another "." in front, and the body ends with a line holding only ".". A stored
/// message whose last line has no line end is sent with CRLF added (so the terminating "." is on
/// a line of its own); its size counts that CRLF too.
struct WireMessage: Hashable, Sendable {
    /// Octets of the message with CRLF line ends, before dot-stuffing: what LIST and STAT report
    /// (RFC 1939 §5).
    let size: Int
    /// The dot-stuffed body followed by the terminating ".\r\n": the exact bytes after `+OK ...\r\n`.
    let wire: [UInt8]

    init(stored: some Collection<UInt8>) {
        let crlf = WireForm.crlf(stored)
        self.size = crlf.count
        self.wire = WireForm.stuffed(crlf: crlf)
    }
}

/// The transformations between a stored message and the wire, byte by byte.
enum WireForm {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let dot = UInt8(ascii: ".")
    /// The line ending a multi-line body (RFC 1939 §3).
    static let terminator: [UInt8] = [dot, cr, lf]

    /// `stored` with every line end CRLF: a bare LF becomes CRLF, CRLF stays, a CR alone stays;
    /// CRLF is added when the last line has none.
    static func crlf(_ stored: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(stored.count + stored.count / 32 + 2)
        var previous: UInt8 = 0
        for byte in stored {
            if byte == Self.lf && previous != Self.cr {
                out.append(Self.cr)
            }
            out.append(byte)
            previous = byte
        }
        if !out.ends(with: [Self.cr, Self.lf]) {
            out.append(Self.cr)
            out.append(Self.lf)
        }
        return out
    }

    /// A CRLF message dot-stuffed and terminated: "." doubled at the start of every line, then
    /// ".\r\n" (RFC 1939 §3).
    static func stuffed(crlf: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(crlf.count + crlf.count / 64 + 3)
        var atLineStart = true
        for byte in crlf {
            if atLineStart && byte == Self.dot {
                out.append(Self.dot)
            }
            out.append(byte)
            atLineStart = byte == Self.lf
        }
        out.append(contentsOf: Self.terminator)
        return out
    }

    /// The message a wire body (dot-stuffed, ending in ".\r\n") carries, or `nil` when `wire` is
    /// not one complete body: no terminator, or a line starting with a single "." before it.
    static func unstuffed(wire: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(wire.count)
        var index = wire.startIndex
        while index < wire.endIndex {
            // At the start of a line.
            if wire[index] == Self.dot {
                if wire[index...].starts(with: Self.terminator) {
                    return index + Self.terminator.count == wire.endIndex ? out : nil
                }
                index += 1
                guard index < wire.endIndex, wire[index] == Self.dot else { return nil }
            }
            guard let end = wire[index...].firstIndex(of: Self.lf) else { return nil }
            out.append(contentsOf: wire[index...end])
            index = end + 1
        }
        return nil
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        self.count >= suffix.count && self[(self.count - suffix.count)...].elementsEqual(suffix)
    }
}
