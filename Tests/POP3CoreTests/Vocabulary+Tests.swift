import NIOCore
import POP3Core
import Testing

@Suite("Vocabulary")
struct VocabularyTests {
    @Test func messageNumbers() {
        #expect(MessageNumber(exactly: 0) == nil)
        #expect(MessageNumber(exactly: -1) == nil)
        #expect(MessageNumber(exactly: 1)?.index == 0)
        #expect(MessageNumber(exactly: Int(Int32.max)) != nil)
        #expect(MessageNumber(exactly: Int(Int32.max) + 1) == nil)
        #expect(MessageNumber(index: 4) == 5)
    }

    @Test(
        arguments: [
            ("IN-USE", ResponseCode.inUse), ("login-delay", .loginDelay), ("SYS/TEMP", .sysTemp),
            ("SYS/PERM", .sysPerm), ("AUTH", .auth), ("UTF8", .utf8), ("X/Y/Z", .other("X/Y/Z")),
        ]
    )
    func responseCodes(text: String, code: ResponseCode) {
        #expect(ResponseCode(text) == code)
        #expect(ResponseCode(code.rawValue) == code)
    }

    @Test(
        arguments: [
            ("TOP", Capability.top), ("USER", .user), ("SASL PLAIN SCRAM-SHA-256", .sasl(["PLAIN", "SCRAM-SHA-256"])),
            ("RESP-CODES", .respCodes), ("LOGIN-DELAY 900", .loginDelay(seconds: 900, perUser: false)),
            ("LOGIN-DELAY 0 USER", .loginDelay(seconds: 0, perUser: true)), ("PIPELINING", .pipelining),
            ("EXPIRE NEVER", .expire(days: nil, perUser: false)), ("EXPIRE 30 USER", .expire(days: 30, perUser: true)),
            ("UIDL", .uidl), ("IMPLEMENTATION PostOffice 1.0", .implementation("PostOffice 1.0")), ("STLS", .stls),
            ("AUTH-RESP-CODE", .authRespCode), ("UTF8", .utf8(user: false)), ("UTF8 USER", .utf8(user: true)),
            ("X-FOO bar", .other(name: "X-FOO", parameters: ["bar"])),
        ]
    )
    func capabilities(line: String, capability: Capability) {
        #expect(Capability(parsing: line) == capability)
        #expect(capability.description == line)
    }

    @Test func capabilityParsingIsCaseInsensitiveAndLenient() {
        #expect(Capability(parsing: "top") == .top)
        #expect(Capability(parsing: "sasl plain") == .sasl(["PLAIN"]))
        #expect(Capability(parsing: "EXPIRE soon") == .other(name: "EXPIRE", parameters: ["soon"]))
        #expect(Capability(parsing: "LOGIN-DELAY -5") == .other(name: "LOGIN-DELAY", parameters: ["-5"]))
    }

    @Test func responses() {
        #expect(Response.err("locked", code: .inUse).description == "-ERR [IN-USE] locked")
        #expect(Response.ok("").description == "+OK")
        var buffer = ByteBuffer()
        buffer.writePOP3Response(.ok("evil\r\ninjection"))
        #expect(String(buffer: buffer) == "+OK evil  injection\r\n")
    }
}
