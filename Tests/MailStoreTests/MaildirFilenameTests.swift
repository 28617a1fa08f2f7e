import MailCore
import Testing

@testable import MailStore

@Suite("Maildir file names")
struct MaildirFilenameTests {
    struct Fixture: CustomTestStringConvertible, Sendable {
        var name: String
        var baseName: String
        var info: String? = nil
        var flags: String? = nil
        var seconds: Int? = nil
        var host: String? = nil
        var size: Int? = nil
        var virtualSize: Int? = nil
        var microseconds: Int? = nil
        var processID: Int? = nil
        var deliveryCount: Int? = nil
        var testDescription: String { self.name }
    }

    static let fixtures: [Fixture] = [
        // Dovecot, with sizes and flags (its documentation's example shapes).
        Fixture(
            name: "1276528487.M364837P9451.kurkku,S=1355,W=1394:2,",
            baseName: "1276528487.M364837P9451.kurkku,S=1355,W=1394",
            info: "2,",
            flags: "",
            seconds: 1_276_528_487,
            host: "kurkku",
            size: 1355,
            virtualSize: 1394,
            microseconds: 364_837,
            processID: 9451
        ),
        Fixture(
            name: "1234567890.M20046P2137.mailserver,S=4542,W=4642:2,Sb",
            baseName: "1234567890.M20046P2137.mailserver,S=4542,W=4642",
            info: "2,Sb",
            flags: "Sb",
            seconds: 1_234_567_890,
            host: "mailserver",
            size: 4542,
            virtualSize: 4642,
            microseconds: 20046,
            processID: 2137
        ),
        // Dovecot with V (device) and I (inode) hex fields and a counter suffix.
        Fixture(
            name: "1491941793.M41850P8566V0000000000000015I0000000004F3030E_0.mx1.example.com,S=10956:2,STln",
            baseName: "1491941793.M41850P8566V0000000000000015I0000000004F3030E_0.mx1.example.com,S=10956",
            info: "2,STln",
            flags: "STln",
            seconds: 1_491_941_793,
            host: "mx1.example.com",
            size: 10956,
            microseconds: 41850,
            processID: 8566,
            deliveryCount: 0
        ),
        // Courier / old-style pid_count with both sizes.
        Fixture(
            name: "1035478339.27041_118.foo.org,S=1000,W=1030:2,S",
            baseName: "1035478339.27041_118.foo.org,S=1000,W=1030",
            info: "2,S",
            flags: "S",
            seconds: 1_035_478_339,
            host: "foo.org",
            size: 1000,
            virtualSize: 1030,
            processID: 27041,
            deliveryCount: 118
        ),
        // qmail, the original time.pid.host, still in new/.
        Fixture(
            name: "1035478339.4242.mail.example.net",
            baseName: "1035478339.4242.mail.example.net",
            seconds: 1_035_478_339,
            host: "mail.example.net",
            processID: 4242
        ),
        // Our own form, with an escaped host.
        Fixture(
            name: "1700000000.M5P77Q3.odd\\057host\\072name,S=10,W=12",
            baseName: "1700000000.M5P77Q3.odd\\057host\\072name,S=10,W=12",
            seconds: 1_700_000_000,
            host: "odd\\057host\\072name",
            size: 10,
            virtualSize: 12,
            microseconds: 5,
            processID: 77,
            deliveryCount: 3
        ),
        // Dovecot's extra fields after the flags.
        Fixture(
            name: "1700000000.M1P2.h:2,FS,extra",
            baseName: "1700000000.M1P2.h",
            info: "2,FS,extra",
            flags: "FS",
            seconds: 1_700_000_000,
            host: "h",
            microseconds: 1,
            processID: 2
        ),
        // Experimental info: no flags.
        Fixture(
            name: "1700000000.1.h:1,whatever",
            baseName: "1700000000.1.h",
            info: "1,whatever",
            seconds: 1_700_000_000,
            host: "h",
            processID: 1
        ),
        // Not of the time.id.host shape at all (procmail MH-style, hand-made).
        Fixture(name: "msg.12345", baseName: "msg.12345"),
        Fixture(name: "hello world:2,S", baseName: "hello world", info: "2,S", flags: "S"),
        // Malformed sizes are absent, not errors.
        Fixture(
            name: "1700000000.M1P2.h,S=abc,W=-5",
            baseName: "1700000000.M1P2.h,S=abc,W=-5",
            seconds: 1_700_000_000,
            host: "h",
            microseconds: 1,
            processID: 2
        ),
        Fixture(
            name: "1700000000.M1P2.h,W=99999999999999999999",
            baseName: "1700000000.M1P2.h,W=99999999999999999999",
            seconds: 1_700_000_000,
            host: "h",
            microseconds: 1,
            processID: 2
        ),
        // A colon ends the base name even with nothing after it.
        Fixture(name: "abc:", baseName: "abc", info: ""),
    ]

    @Test("parses", arguments: Self.fixtures)
    func parses(_ fixture: Fixture) throws {
        let parsed = try #require(MaildirFilename(parsing: fixture.name))
        #expect(text(parsed.baseName) == fixture.baseName)
        #expect(parsed.info.map(text) == fixture.info)
        #expect(parsed.flags.map(text) == fixture.flags)
        #expect(parsed.seconds == fixture.seconds)
        #expect(parsed.host.map(text) == fixture.host)
        #expect(parsed.size == fixture.size)
        #expect(parsed.virtualSize == fixture.virtualSize)
        #expect(parsed.microseconds == fixture.microseconds)
        #expect(parsed.processID == fixture.processID)
        #expect(parsed.deliveryCount == fixture.deliveryCount)
        #expect(parsed.description == fixture.name, "formatting gives the name back")
    }

    @Test("rejects names a reader must skip", arguments: ["", ".hidden", ".", "..", "a/b", "a\u{0}b", ":2,S"])
    func rejects(_ name: String) {
        #expect(MaildirFilename(parsing: name) == nil)
    }

    @Test("formats sizes and flags in ASCII order")
    func formats() throws {
        let name = MaildirFilename(unique: "1700000000.M1P2Q3.host", size: 100, virtualSize: 104, flags: "SRF")
        #expect(name.description == "1700000000.M1P2Q3.host,S=100,W=104:2,FRS")
        #expect(text(name.baseName) == "1700000000.M1P2Q3.host,S=100,W=104")
        #expect(text(name.uniquePart) == "1700000000.M1P2Q3.host")
        let reparsed = try #require(MaildirFilename(parsing: name.description))
        #expect(reparsed == name)
        #expect(MaildirFilename(unique: "1.2.h").description == "1.2.h")
    }

    @Test(
        "escapes host names",
        arguments: [
            ("mail.example.com", "mail.example.com"),
            ("a/b:c", "a\\057b\\072c"),
            ("comma,host", "comma\\054host"),
            ("back\\slash", "back\\134slash"),
            ("sp ace", "sp\\040ace"),
            ("ü", "\\303\\274"),
            ("", "localhost"),
        ]
    )
    func escapesHostnames(_ host: String, _ expected: String) {
        #expect(MaildirUniqueName.escapeHostname(host) == expected)
    }

    @Test("formats the modern unique name")
    func formatsUniqueName() {
        let name = MaildirUniqueName.format(
            seconds: 1_700_000_000,
            microseconds: 42,
            processID: 4711,
            deliveryCount: 9,
            host: "mx:1"
        )
        #expect(name == "1700000000.M42P4711Q9.mx\\0721")
    }

    @Test("generates distinct, parseable, valid names")
    func generates() throws {
        var seen = Set<String>()
        for _ in 0..<1000 {
            let unique = MaildirUniqueName.generate(host: "host/with:odd,chars")
            #expect(seen.insert(unique).inserted)
            let parsed = try #require(MaildirFilename(parsing: unique))
            #expect(parsed.host.map(text) == "host\\057with\\072odd\\054chars")
            #expect(parsed.microseconds != nil)
            #expect(parsed.deliveryCount != nil)
            #expect(UniqueID.isValid(Array(unique.utf8)))
            let seconds = try #require(parsed.seconds)
            #expect(seconds > 1_600_000_000)
        }
    }
}

/// Bytes as text, for comparing parsed name parts with expected strings.
func text(_ bytes: some Sequence<UInt8>) -> String {
    String(decoding: Array(bytes), as: UTF8.self)
}
