import Foundation
import Testing

@testable import postoffice_bench

@Suite("the corpus manifest")
struct ManifestTests {
    static let digest = "f17388d2bc94eb52e508b785f3d55b91eb9e7114380d65d51243292a5a7d7282"

    static func corpus() throws -> String {
        let directory = NSTemporaryDirectory() + "postoffice-bench-manifest-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/m", withIntermediateDirectories: true)
        // Stored with LF line ends, as delivery writes it; the manifest describes the CRLF form.
        try Data("Subject: t\n\n.hi\n".utf8).write(to: URL(fileURLWithPath: directory + "/m/one"))
        return directory
    }

    @Test("lines are parsed; malformed lines are refused")
    func parse() throws {
        let manifest = try Manifest.parse("# v1\nr1\t19\t\(Self.digest)\tm/one\n", directory: "/x")
        #expect(manifest.entries == [ManifestEntry(account: "r1", size: 19, digest: Self.digest, path: "m/one")])
        #expect(throws: Manifest.Invalid.self) { try Manifest.parse("r1\t19\tshort\tm/one\n", directory: "/x") }
        #expect(throws: Manifest.Invalid.self) { try Manifest.parse("r1 19 \(Self.digest) m/one\n", directory: "/x") }
    }

    @Test("expected messages are read once per content and checked against size and digest")
    func expectedMessages() throws {
        let directory = try Self.corpus()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let text = "r1\t19\t\(Self.digest)\tm/one\nr1\t19\t\(Self.digest)\tm/one\nr2\t19\t\(Self.digest)\tm/one\n"
        let expected = try Manifest.parse(text, directory: directory).expectedMessages(for: ["r1"])
        let maildrop = try #require(expected["r1"])
        #expect(maildrop.count == 2)
        #expect(maildrop.totalSize == 38)
        #expect(maildrop.candidates(size: 19)?.count == 1)
        #expect(maildrop.candidates(size: 19)?.first?.wire == Array("Subject: t\r\n\r\n..hi\r\n.\r\n".utf8))
        #expect(expected["r2"] == nil)
    }

    @Test("a corpus file that does not match its manifest line is an error")
    func mismatch() throws {
        let directory = try Self.corpus()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let wrongDigest = String(Self.digest.reversed())
        #expect(throws: Manifest.Invalid.self) {
            _ = try Manifest.parse("r1\t19\t\(wrongDigest)\tm/one\n", directory: directory).expectedMessages(for: ["r1"]
            )
        }
        #expect(throws: Manifest.Invalid.self) {
            _ = try Manifest.parse("r1\t18\t\(Self.digest)\tm/one\n", directory: directory).expectedMessages(for: ["r1"]
            )
        }
        #expect(throws: Manifest.Invalid.self) {
            _ = try Manifest.parse("r1\t19\t\(Self.digest)\tm/one\n", directory: directory).expectedMessages(for: [
                "nobody"
            ])
        }
    }
}
