// Comparison of secrets whose running time does not depend on where the inputs differ.

/// Helpers shared with the Accounts module for handling secrets.
@_spi(POP3Internal)
public enum ConstantTime {
    /// True when both byte sequences are equal. The time taken depends only on the lengths.
    public static func equals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        var difference: UInt8 = lhs.count == rhs.count ? 0 : 1
        var leftIterator = lhs.makeIterator()
        var rightIterator = rhs.makeIterator()
        // Walk the longer of the two so a length mismatch costs the same as a content mismatch.
        for _ in 0..<max(lhs.count, rhs.count) {
            let left = leftIterator.next() ?? 0
            let right = rightIterator.next() ?? 0
            difference |= left ^ right
        }
        return difference == 0
    }
}
