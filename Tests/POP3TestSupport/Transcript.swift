// Test support: a protocol exchange written as RFC-style `C:`/`S:` lines (GUIDE B9.3).

/// A POP3 exchange as the RFCs write it, to be checked against a live server by
/// ``TranscriptRunner``.
///
/// ```
/// # a comment
/// S: +OK PostOffice POP3 server ready {{timestamp}}
/// C: APOP mrose {{digest}}
/// S: +OK maildrop has 2 messages (320 octets)
/// C: AUTH PLAIN
/// S: +␠
/// !starttls
/// !close
/// ```
///
/// - `C: text`: the client sends `text` and CRLF. Consecutive `C:` lines go out in one write
///   (pipelining, RFC 2449 §6.6). `{{name}}` is replaced by a substitution the runner is given.
/// - `S: text`: the server must send exactly `text` and CRLF. `{{name}}` matches one or more
///   bytes up to the next literal part and remembers them as `name`; `{{*}}` matches without
///   remembering.
/// - In both, one space after the colon is the separator; `␠` (U+2420) writes a space that
///   must not be lost at the end of a line (`S: +␠` is the empty SASL challenge).
/// - `!starttls`: put TLS under the connection (after the server's `+OK` to STLS).
/// - `!close`: the server must close the connection now, sending nothing more.
/// - Blank lines and lines starting with `#` are ignored.
public struct Transcript: Sendable, Hashable {
    /// One step of the exchange.
    public enum Step: Sendable, Hashable {
        case client(String)
        case server(String)
        case startTLS
        case serverCloses
    }

    /// A step and the line of the transcript text it came from (1-based), for messages.
    public struct Entry: Sendable, Hashable {
        public var line: Int
        public var step: Step
    }

    /// A line of transcript text that is none of the forms above.
    public struct SyntaxError: Error, CustomStringConvertible {
        public var line: Int
        public var text: String
        public var description: String { "transcript line \(line): cannot read \"\(text)\"" }
    }

    public var entries: [Entry]

    /// Reads transcript text; leading indentation of each line is ignored.
    public init(_ text: String) throws {
        var entries: [Entry] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = rawLine.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line == "!starttls" {
                entries.append(Entry(line: number, step: .startTLS))
            } else if line == "!close" {
                entries.append(Entry(line: number, step: .serverCloses))
            } else if line.hasPrefix("C:") {
                entries.append(Entry(line: number, step: .client(Self.content(line))))
            } else if line.hasPrefix("S:") {
                entries.append(Entry(line: number, step: .server(Self.content(line))))
            } else {
                throw SyntaxError(line: number, text: String(rawLine))
            }
        }
        self.entries = entries
    }

    /// The text after `C:`/`S:` and one optional space, with `␠` made a space.
    private static func content(_ line: Substring) -> String {
        var rest = line.dropFirst(2)
        if rest.first == " " { rest = rest.dropFirst() }
        return String(rest).replacing("␠", with: " ")
    }
}

/// Parts of a line template: literal text and `{{name}}` placeholders.
enum TranscriptTemplate {
    enum Part: Hashable {
        case literal(String)
        case placeholder(String)
    }

    static func parts(_ template: String) -> [Part] {
        var parts: [Part] = []
        var rest = Substring(template)
        while let open = rest.firstRange(of: "{{"), let close = rest[open.upperBound...].firstRange(of: "}}") {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            parts.append(.placeholder(String(rest[open.upperBound..<close.lowerBound])))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        return parts
    }

    /// Matches `line` against `template`; returns the captured values, or nil on a mismatch.
    /// A placeholder takes one or more bytes, as few as let the next literal part match.
    static func match(_ line: [UInt8], template: String) -> [String: String]? {
        var captures: [String: String] = [:]
        var position = 0
        let parts = self.parts(template)
        var index = 0
        while index < parts.count {
            switch parts[index] {
            case .literal(let text):
                let bytes = Array(text.utf8)
                guard line.count - position >= bytes.count,
                    line[position..<(position + bytes.count)].elementsEqual(bytes)
                else { return nil }
                position += bytes.count
            case .placeholder(let name):
                var end = line.count
                if index + 1 < parts.count, case .literal(let next) = parts[index + 1] {
                    let bytes = Array(next.utf8)
                    guard let found = firstIndex(of: bytes, in: line, from: position + 1) else { return nil }
                    end = found
                }
                guard end > position else { return nil }
                if name != "*" { captures[name] = String(decoding: line[position..<end], as: UTF8.self) }
                position = end
            }
            index += 1
        }
        return position == line.count ? captures : nil
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, start + needle.count <= haystack.count else { return nil }
        for candidate in start...(haystack.count - needle.count)
        where haystack[candidate..<(candidate + needle.count)].elementsEqual(needle) {
            return candidate
        }
        return nil
    }
}
