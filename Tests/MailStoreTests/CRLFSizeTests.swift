import PropertyBased
import Testing

@testable import MailStore

@Suite("CRLF sizes")
struct CRLFSizeTests {
    static let cases: [(String, [UInt8], Int)] = [
        ("empty", [], 0),
        ("LF", Array("a\nb\n".utf8), 6),
        ("CRLF", Array("a\r\nb\r\n".utf8), 6),
        ("mixed", Array("a\r\nb\nc\r\n\n".utf8), 11),
        ("no final newline", Array("a\nlast".utf8), 9),
        ("lone CR", Array("a\rb\r".utf8), 5),
        ("CR CR LF", Array("\r\r\n".utf8), 3),
        ("LF CR", Array("\n\r".utf8), 4),
        ("NUL and 8-bit", [0x00, 0x0A, 0xFF, 0x80, 0x0D, 0x0A, 0xC3, 0xBC], 11),
        ("only LFs", [0x0A, 0x0A, 0x0A], 6),
    ]

    @Test("fixtures", arguments: Self.cases)
    func fixtures(_ name: String, _ bytes: [UInt8], _ expected: Int) {
        #expect(CRLFSizeCounter.size(of: bytes) == expected)
        #expect(TestFiles.crlfConverted(bytes).count == expected)
    }

    @Test("a CR at the end of one chunk pairs with an LF at the start of the next")
    func splitCRLF() {
        var counter = CRLFSizeCounter()
        counter.update(Array("a\r".utf8))
        counter.update(Array("\nb\n".utf8))
        #expect(counter.size == 6)
        #expect(counter.storedSize == 5)
    }

    /// Bodies rich in the bytes that matter: LF, CR, NUL, '.', 8-bit.
    static let alphabet: [UInt8] = [0x0A, 0x0D, 0x00, 0x2E, 0x41, 0x20, 0xFF, 0x80]
    static let bodies = Gen.int(in: 0...7).map { Self.alphabet[$0] }.array(of: 0...400)

    @Test("size equals the length after LF→CRLF conversion, however the bytes are chunked")
    func property() async {
        await propertyCheck(count: 300, input: Self.bodies, Gen.int(in: 1...64)) { body, chunk in
            var counter = CRLFSizeCounter()
            var start = 0
            while start < body.count {
                let end = min(start + chunk, body.count)
                counter.update(body[start..<end])
                start = end
            }
            #expect(counter.size == TestFiles.crlfConverted(body).count)
            #expect(counter.storedSize == body.count)
        }
    }

    @Test("a file's computed size equals its bytes after conversion")
    func fileProperty() async throws {
        try await TestFiles.withTemporaryDirectory { directory in
            await propertyCheck(count: 60, input: Self.bodies) { body in
                let path = directory + "/message"
                try TestFiles.writeFile(path, body)
                let size = try MaildirScanner.countCRLFSize(RawPath(path))
                #expect(size == TestFiles.crlfConverted(body).count)
            }
        }
    }
}

@Suite("Unique-ids from base names")
struct UniqueIDTests {
    @Test("SHA-256 test vectors (FIPS 180-4 examples)")
    func sha256() {
        #expect(
            SHA256.hex(SHA256.hash(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        )
        #expect(
            SHA256.hex(SHA256.hash([UInt8]()))
                == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        #expect(
            SHA256.hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
        #expect(
            SHA256.hex(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        )
    }

    @Test("valid base names are used as they are")
    func validNames() {
        let names = ["1700000000.M1P2Q3.host,S=10,W=12", "a", String(repeating: "x", count: 70), "!~"]
        #expect(UniqueIDMapper.uniqueIDs(for: names.map { Array($0.utf8) }) == names)
    }

    @Test(
        "unfit names map to a stable digest id",
        arguments: [
            Array(String(repeating: "y", count: 71).utf8),
            Array("has space".utf8),
            Array("tab\there".utf8),
            [0xC3, 0xBC, 0x41],
            [0xFF, 0xFE],
            Array(
                "1491941793.M41850P8566V0000000000000015I0000000004F3030E_0.mx1.example.com,S=10956,W=11000".utf8
            ),
        ]
    )
    func mapped(_ name: [UInt8]) {
        let id = UniqueIDMapper.uniqueIDs(for: [name])[0]
        #expect(id.hasPrefix("~"))
        #expect(id.utf8.count == 33)
        #expect(UniqueIDMapper.isValidUniqueID(Array(id.utf8)))
        #expect(id == "~" + SHA256.hex(SHA256.hash(name)).prefix(32))
        #expect(UniqueIDMapper.uniqueIDs(for: [Array("other".utf8), name])[1] == id, "independent of other names")
    }

    @Test("a file named like another's digest does not share its id")
    func collision() {
        let long = Array(String(repeating: "z", count: 80).utf8)
        let digest = UniqueIDMapper.digestID(long, salt: 0)
        let ids = UniqueIDMapper.uniqueIDs(for: [Array(digest.utf8), long])
        #expect(ids[0] == digest, "the genuine name keeps its id")
        #expect(ids[1] != digest)
        #expect(ids[1] == UniqueIDMapper.digestID(long, salt: 1))
        #expect(
            UniqueIDMapper.uniqueIDs(for: [long, Array(digest.utf8)]) == [ids[1], ids[0]],
            "order does not matter"
        )
    }
}
