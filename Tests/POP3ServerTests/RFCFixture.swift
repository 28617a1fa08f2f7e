import POP3TestSupport

/// The maildrop of RFC 1939's examples: mrose (APOP secret `tanstaaf`, RFC 1939 §7) with two
/// messages of exactly 120 and 200 octets (CRLF line ends) and the unique-ids of RFC 1939 §7.
enum RFCFixture {
    static let firstUID = "whqtswO00WBw418f9t5JxYwZ"
    static let secondUID = "QhdPYR:00WBw1Ph7x7"

    /// Message 1: twelve body lines, the last starting with a dot (stuffed on the wire).
    static let message1 = padded(
        ["From: dewey@example.org", "Subject: first", ""] + (1...11).map(String.init) + [".signature "],
        toOctets: 120
    )

    /// Message 2: a body with a line that is only a dot and one with two.
    static let message2 = padded(
        ["From: mrose@example.org", "To: dewey@example.org", "Subject: second", "", "Hello again.", ".", "..", "end "],
        toOctets: 200
    )

    /// The accounts the transcripts log in with.
    static var accounts: InMemoryAccounts {
        InMemoryAccounts(["mrose": "tanstaaf", "test": "test", "frated": "elsewhere"])
    }

    /// A store holding mrose's two messages (stored with LF line ends, as Maildir files are).
    static func store() -> TestMailStore {
        let store = TestMailStore(chunkSize: 17)
        store.add(user: "mrose", message: message1.map { $0 + "\n" }.joined(), uniqueID: firstUID)
        store.add(user: "mrose", message: message2.map { $0 + "\n" }.joined(), uniqueID: secondUID)
        return store
    }

    /// `S:` lines for a multi-line body as the server sends it: dot-stuffed (RFC 1939 §3),
    /// then the terminating `.`.
    static func served(_ lines: some Sequence<String>) -> String {
        (lines.map { "S: " + ($0.hasPrefix(".") ? "." + $0 : $0) } + ["S: ."]).joined(separator: "\n")
    }

    /// Pads the last line with `x` until the lines with CRLF ends take exactly `octets`.
    private static func padded(_ lines: [String], toOctets octets: Int) -> [String] {
        var lines = lines
        let size = lines.reduce(0) { $0 + $1.utf8.count + 2 }
        precondition(size <= octets, "fixture lines too long")
        lines[lines.count - 1] += String(repeating: "x", count: octets - size)
        return lines
    }
}
