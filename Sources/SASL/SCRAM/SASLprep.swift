// SASLprep (RFC 4013): the stringprep profile for user names and passwords.

/// SASLprep (RFC 4013), the common subset this module can do without Foundation.
///
/// Done: the mappings of RFC 4013 §2.1 (non-ASCII spaces, RFC 3454 C.1.2, become U+0020; the
/// "commonly mapped to nothing" characters, B.1, are removed) and the prohibited output of §2.3
/// (RFC 3454 C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9).
///
/// Not done:
/// - normalization form KC (RFC 4013 §2.2): the Swift standard library has no NFKC and this
///   module may not import Foundation. Strings are used in the form given, which is right for
///   ASCII and for text already in NFKC (what input methods produce for most scripts).
/// - the bidirectional checks (§2.4, RFC 3454 §6), which need Unicode 3.2 bidi tables.
/// - the unassigned code point check (§2.5) for stored strings.
///
/// - SeeAlso: [RFC 4013](https://datatracker.ietf.org/doc/html/rfc4013)
public enum SASLprep {
    /// Why a string was refused.
    public struct ProhibitedCharacter: Error, Hashable, Sendable, CustomStringConvertible {
        /// The position of the offending scalar (never the scalar itself: it may be in a password).
        public var offset: Int
        public var description: String { "prohibited character at position \(offset)" }
    }

    /// The prepared form of `string`.
    /// - Throws: ``ProhibitedCharacter`` for characters RFC 4013 §2.3 prohibits.
    public static func prepare(_ string: String) throws -> String {
        var output = String.UnicodeScalarView()
        for (offset, scalar) in string.unicodeScalars.enumerated() {
            let value = scalar.value
            // B.1 first: U+200B is in both B.1 and C.1.2, and is removed, like other implementations do.
            if isMappedToNothing(value) { continue }
            if isNonASCIISpace(value) {
                output.append(" ")
                continue
            }
            guard !isProhibited(value) else { throw ProhibitedCharacter(offset: offset) }
            output.append(scalar)
        }
        return String(output)
    }

    /// RFC 3454 B.1.
    static func isMappedToNothing(_ value: UInt32) -> Bool {
        switch value {
        case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060, 0xFE00...0xFE0F, 0xFEFF: true
        default: false
        }
    }

    /// RFC 3454 C.1.2.
    static func isNonASCIISpace(_ value: UInt32) -> Bool {
        switch value {
        case 0x00A0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    /// RFC 3454 C.2.1 to C.9 (C.1.2 is mapped before this is asked).
    static func isProhibited(_ value: UInt32) -> Bool {
        switch value {
        // C.2.1 ASCII control characters
        case 0x0000...0x001F, 0x007F: true
        // C.2.2 non-ASCII control characters
        case 0x0080...0x009F, 0x06DD, 0x070F, 0x180E, 0x200C, 0x200D, 0x2028, 0x2029, 0x2060...0x2063,
            0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC, 0x1D173...0x1D17A:
            true
        // C.3 private use
        case 0xE000...0xF8FF, 0xF0000...0xFFFFD, 0x100000...0x10FFFD: true
        // C.4 non-character code points
        case 0xFDD0...0xFDEF: true
        case _ where value & 0xFFFE == 0xFFFE: true
        // C.5 surrogate codes cannot occur in a Unicode.Scalar.
        // C.6 inappropriate for plain text
        case 0xFFF9...0xFFFD: true
        // C.7 inappropriate for canonical representation
        case 0x2FF0...0x2FFB: true
        // C.8 change display properties or deprecated
        case 0x0340, 0x0341, 0x200E, 0x200F, 0x202A...0x202E: true
        // C.9 tagging characters
        case 0xE0001, 0xE0020...0xE007F: true
        default: false
        }
    }
}
