import Crypto
import FileIO
import MailCore
import PropertyBased
import SystemPackage
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
                let file = try File.open(FilePath(path), .readOnly)
                defer { file.closeQuietly() }
                let size = try MaildirScanner.countCRLFSize(file)
                #expect(size == TestFiles.crlfConverted(body).count)
            }
        }
    }
}

@Suite("Unique-ids from base names")
struct UniqueIDTests {
    @Test("valid base names are used as they are")
    func validNames() {
        let names = ["1700000000.M1P2Q3.host,S=10,W=12", "a", String(repeating: "x", count: 70), "!~"]
        #expect(UniqueIDMapper.uniqueIDs(for: names.map { ArraySlice($0.utf8) }) == names)
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
        let id = UniqueIDMapper.uniqueIDs(for: [name[...]])[0]
        #expect(id.hasPrefix("~"))
        #expect(id.utf8.count == 33)
        #expect(UniqueID.isValid(Array(id.utf8)))
        // The first 128 bits of SHA-256 in lower-case hex, computed independently.
        let digest = SHA256.hash(data: name).map {
            String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16)
        }
        #expect(id == "~" + digest.prefix(16).joined())
        #expect(
            UniqueIDMapper.uniqueIDs(for: [ArraySlice("other".utf8), name[...]])[1] == id,
            "independent of other names"
        )
    }

    @Test("a file named like another's digest does not share its id")
    func collision() {
        let long = Array(String(repeating: "z", count: 80).utf8)
        let digest = UniqueIDMapper.digestID(long, salt: 0)
        let ids = UniqueIDMapper.uniqueIDs(for: [ArraySlice(digest.utf8), long[...]])
        #expect(ids[0] == digest, "the genuine name keeps its id")
        #expect(ids[1] != digest)
        #expect(ids[1] == UniqueIDMapper.digestID(long, salt: 1))
        #expect(
            UniqueIDMapper.uniqueIDs(for: [long[...], ArraySlice(digest.utf8)]) == [ids[1], ids[0]],
            "order does not matter"
        )
    }
}
