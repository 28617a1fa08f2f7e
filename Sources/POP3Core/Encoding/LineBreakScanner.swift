// POP3Core: finding line breaks in contiguous bytes a word at a time (the hot loop of RETR).

/// Finds the next CR or LF eight bytes at a time, as `memchr` does, in portable Swift.
///
/// Each 64-bit word is XORed with the byte being looked for, so that byte becomes zero, and
/// `(v - 0x01…) & ~v & 0x80…` sets the high bit of every zero byte. A borrow can mark a
/// byte above a real zero, never one below it, so the lowest marked byte is the first match.
enum LineBreakScanner {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080
    private static let lineFeeds: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
    private static let carriageReturns: UInt64 = 0x0D0D_0D0D_0D0D_0D0D

    /// The offset of the first CR or LF in `start..<end` of `base`, or `end` when there is none.
    @inline(__always)
    static func firstLineBreak(in base: UnsafeRawPointer, from start: Int, to end: Int) -> Int {
        var index = start
        while index &+ 8 <= end {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            let lf = word ^ Self.lineFeeds
            let cr = word ^ Self.carriageReturns
            let marks = (((lf &- Self.ones) & ~lf) | ((cr &- Self.ones) & ~cr)) & Self.highBits
            if marks != 0 {
                return index &+ (marks.trailingZeroBitCount &>> 3)
            }
            index &+= 8
        }
        while index < end {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                return index
            }
            index &+= 1
        }
        return end
    }
}
