// Counting the octets a message has once its line ends are CRLF (RFC 1939 §5 and §11).

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Counts the octets a message occupies when every bare LF is sent as CRLF.
///
/// Maildir files are usually stored with LF line ends, but POP3 sizes (RFC 1939 §5, LIST/STAT)
/// are in octets as sent, with CRLF line ends and before dot-stuffing. An LF that already follows
/// a CR counts once; a bare LF counts twice; every other octet (lone CR, NUL, 8-bit) counts once.
/// A message whose last line has no line end is sent with one (RFC 1939 §3: the terminating
/// `.` must start a line), so those octets count too: the size is exactly what RETR transmits
/// before dot-stuffing (DESIGN.md invariant 5). This is the `,W=` value PostOffice writes into
/// Maildir names; Dovecot's `,W=` differs only for such unterminated messages, which MTAs do not
/// produce. Feed the bytes in any chunking: a CR at the end of one chunk pairs with an LF at the
/// start of the next.
public struct CRLFSizeCounter: Sendable, Hashable {
    /// Octets sent for the bytes counted so far: bare LFs as CRLF, plus the line end a last line
    /// without one is given.
    public var size: Int {
        switch lastByte {
        case nil, 0x0A?: return countedSize
        case 0x0D?: return countedSize + 1
        case _?: return countedSize + 2
        }
    }
    /// Octets counted so far, with bare LFs counted as CRLF.
    private var countedSize: Int = 0
    private var lastByte: UInt8?
    /// Octets seen so far, as stored.
    public private(set) var storedSize: Int = 0
    private var lastWasCR = false

    /// A counter that has seen no bytes.
    public init() {}

    /// Counts `bytes` as the next part of the message.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var bareLFs = 0
        var index = 0
        let count = bytes.count
        // memchr finds each LF fast, so a 20 MB message costs little even in debug builds.
        while index < count {
            guard let hit = memchr(base + index, 0x0A, count - index) else { break }
            let offset = base.distance(to: UnsafeRawPointer(hit))
            let previousIsCR = offset == 0 ? self.lastWasCR : bytes[offset - 1] == 0x0D
            if !previousIsCR {
                bareLFs += 1
            }
            index = offset + 1
        }
        self.lastWasCR = bytes[count - 1] == 0x0D
        self.lastByte = bytes[count - 1]
        self.storedSize += count
        self.countedSize += count + bareLFs
    }

    /// Counts `bytes` as the next part of the message.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { self.update(UnsafeRawBufferPointer($0)) }
        if done == nil {
            let copy = Array(bytes)
            copy.withUnsafeBytes { self.update($0) }
        }
    }

    /// The CRLF size of a whole message.
    public static func size(of bytes: some Sequence<UInt8>) -> Int {
        var counter = CRLFSizeCounter()
        counter.update(bytes)
        return counter.size
    }
}
