@_spi(POP3Internal) import SASL
import Testing

@testable import SASL

@Suite("Constant-time comparison, SASLprep")
struct SupportTests {
    @Test("constant-time equality")
    func constantTime() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(!ConstantTime.equals([], [0]))
        #expect(ConstantTime.equals([UInt8](), []))
    }

    @Test("random bytes have the asked length and differ")
    func random() {
        #expect(SecureRandom.bytes(5).count == 5)
        #expect(SecureRandom.bytes(18).count == 18)
        #expect(SecureRandom.bytes(32) != SecureRandom.bytes(32))
    }

    // RFC 4013 §3 examples that need no normalization.
    @Test(
        "SASLprep mappings",
        arguments: [
            ("I\u{00AD}X", "IX"), ("user", "user"), ("USER", "USER"), ("a\u{00A0}b", "a b"),
            ("a\u{2003}b\u{3000}", "a b "), ("x\u{200B}y", "xy"), ("pass word", "pass word"),
        ]
    )
    func saslprepMappings(input: String, output: String) throws {
        #expect(try SASLprep.prepare(input) == output)
    }

    @Test(
        "SASLprep prohibited output",
        arguments: [0x07, 0x7F, 0x85, 0xE000, 0xFDD0, 0xFFFF, 0x1FFFE, 0x2FF0, 0x200E, 0xE0041, 0xFFFD, 0x10FFFD]
            as [UInt32]
    )
    func saslprepProhibited(_ value: UInt32) throws {
        let scalar = try #require(Unicode.Scalar(value))
        var input = String.UnicodeScalarView()
        input.append("a")
        input.append(scalar)
        #expect(throws: SASLprep.ProhibitedCharacter(offset: 1)) { try SASLprep.prepare(String(input)) }
    }

    @Test("SCRAM normalizes the password it hashes, or uses the raw bytes")
    func normalizedPassword() {
        #expect(SCRAM.normalizedPassword("pen\u{00AD}cil") == Array("pencil".utf8))
        #expect(SCRAM.normalizedPassword("bell\u{0007}") == Array("bell\u{0007}".utf8))
    }
}
