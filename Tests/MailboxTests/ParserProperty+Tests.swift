import MailStore
import PropertyBased
import Testing

@testable import Mailbox

/// Hostile input: random bytes and mutated real-shaped messages must parse without crashing
/// or hanging, and every reading the mailbox makes must be total.
@Suite("Parser properties")
struct ParserPropertyTests {
    /// Runs every reading the index and `show` use.
    static func exercise(_ bytes: [UInt8]) {
        let message = MessageParser.parse(bytes)
        _ = message.subject
        _ = message.from
        _ = message.recipients
        _ = message.date
        let content = message.content
        for attachment in content.attachments {
            _ = AttachmentNames.safeFileName(attachment.filename)
            _ = attachment.data
        }
        _ = HTMLText.render(String(decoding: bytes, as: UTF8.self))
        _ = Mbox.unquote(bytes[...])
        #expect(Mbox.unquote(Mbox.quote(bytes[...])[...]) == bytes)
    }

    @Test func randomBytes() async {
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...2048)) { bytes in
            Self.exercise(bytes)
        }
    }

    /// Random bytes drawn from the characters MIME syntax is made of, so the parser's
    /// interesting paths (boundaries, encoded words, parameters) are reached.
    @Test func syntaxSoup() async {
        let alphabet = Array("=?Q?B?_-:; \r\n\t\"'%*<>()/\\abcdeAZ09&#=--b--".utf8)
        let pieces = [
            "Content-Type: multipart/mixed; boundary=b\r\n", "--b\r\n", "--b--\r\n", "\r\n",
            "Content-Transfer-Encoding: base64\r\n", "Content-Transfer-Encoding: quoted-printable\r\n",
            "Content-Type: message/rfc822\r\n", "Subject: =?utf-8?q?x?= =?utf-8?b?w6k=?=\r\n",
            "Content-Disposition: attachment; filename*0*=utf-8''a%C3; filename*1*=%A9.txt\r\n",
            "<a href=\"x\">", "&#x1F600;", "=C3=A9=\r\n",
        ].map { Array($0.utf8) }
        let generator = Gen.int(in: 0..<(alphabet.count + pieces.count)).array(of: 0...400)
        await propertyCheck(count: 300, input: generator) { choices in
            var bytes: [UInt8] = []
            for choice in choices {
                if choice < alphabet.count {
                    bytes.append(alphabet[choice])
                } else {
                    bytes += pieces[choice - alphabet.count]
                }
            }
            Self.exercise(bytes)
        }
    }

    /// The corpus with random bytes overwritten, inserted and removed.
    @Test func mutatedCorpus() async {
        let corpus = Fixture.corpus().map(\.bytes)
        let mutation = Gen.int(in: 0..<3).array(of: 1...40)
        await propertyCheck(count: 200, input: Gen.int(in: 0..<corpus.count), mutation, Gen.uint64()) {
            which,
            operations,
            seed in
            var bytes = corpus[which]
            var state = seed | 1
            func next() -> Int {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                return Int(truncatingIfNeeded: state & 0x7FFF_FFFF)
            }
            for operation in operations where !bytes.isEmpty {
                let position = next() % bytes.count
                switch operation {
                case 0: bytes[position] = UInt8(truncatingIfNeeded: next())
                case 1: bytes.insert(UInt8(truncatingIfNeeded: next()), at: position)
                default: bytes.remove(at: position)
                }
            }
            Self.exercise(bytes)
        }
    }

    @Test func quotingRoundTrips() async {
        let lines = ["From here", ">From there", ">>From x", "From", "plain", "", " From"].map { Array($0.utf8) }
        await propertyCheck(count: 200, input: Gen.int(in: 0..<lines.count).array(of: 0...30)) { choices in
            var bytes: [UInt8] = []
            for choice in choices { bytes += lines[choice] + [0x0A] }
            let quoted = Mbox.quote(bytes[...])
            // No line of the quoted form starts with "From ".
            for line in quoted.split(separator: 0x0A, omittingEmptySubsequences: false) {
                #expect(!line.starts(with: Array("From ".utf8)))
            }
            #expect(Mbox.unquote(quoted[...]) == bytes)
        }
    }

    /// Pathological shapes that would be quadratic in a naive parser finish (the suite has a
    /// time limit, so a hang fails).
    static func repeated(_ text: String, _ count: Int, after prefix: String = "") -> [UInt8] {
        var bytes = Array(prefix.utf8)
        let unit = Array(text.utf8)
        for _ in 0..<count { bytes += unit }
        return bytes
    }

    static let pathological: [[UInt8]] = [
        repeated("=?a?q?", 20_000),
        repeated("(", 100_000, after: "Subject: "),
        repeated("--b\r\n", 20_000, after: "Content-Type: multipart/mixed; boundary=b\r\n\r\n"),
        repeated("<a href=x>", 20_000),
        repeated("X: y\r\n", 50_000),
        repeated("<script", 20_000),
    ]

    @Test(.timeLimit(.minutes(1)), arguments: pathological)
    func pathologicalInputsFinish(bytes: [UInt8]) {
        Self.exercise(bytes)
        #expect(MessageParser.parse(bytes).size == bytes.count)
    }
}
