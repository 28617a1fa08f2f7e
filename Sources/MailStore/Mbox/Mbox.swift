// The mbox format as mboxrd writes and reads it (RFC 4155 describes the family): each message
// starts with a `From ` line at the start of the file or after an empty line; body lines that
// start with `From ` after any number of `>` get one more `>` on writing and lose one on reading
// (MboxQuoting.swift). This file holds the `From ` line: its format and its parse.

import MailCore

/// mbox facts shared by the reader, the writers and the quoting.
public enum Mbox {
    /// `From `: what starts a separator line, and what quoting protects.
    static let fromPrefix: [UInt8] = Array("From ".utf8)

    /// Whether `line` starts with `From ` (a separator when it starts the file or follows an
    /// empty line).
    public static func isFromLine(_ line: some Sequence<UInt8>) -> Bool {
        line.starts(with: Self.fromPrefix)
    }

    /// The separator line `From <sender> <asctime date>` without its line end. The sender keeps
    /// only bytes above space (no whitespace or control characters, so the line parses back);
    /// an empty one becomes `MAILER-DAEMON`.
    public static func fromLine(sender: String, date seconds: Int64) -> String {
        var kept = String(
            String.UnicodeScalarView(sender.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7F })
        )
        if kept.isEmpty {
            kept = "MAILER-DAEMON"
        }
        return "From \(kept) \(Self.asctime(seconds))"
    }

    /// A separator line taken apart.
    public struct FromLine: Hashable, Sendable {
        /// The envelope sender (the first word after `From `).
        public var sender: String
        /// The rest: the date as written (asctime layout, sometimes with a zone or more words).
        public var date: String
    }

    /// Parses a separator line (with or without its line end); `nil` when it does not start
    /// with `From `.
    public static func parseFromLine(_ line: some Collection<UInt8>) -> FromLine? {
        guard Self.isFromLine(line) else { return nil }
        var rest = Array(line.dropFirst(Self.fromPrefix.count))
        while let last = rest.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
            rest.removeLast()
        }
        let space = rest.firstIndex(of: UInt8(ascii: " ")) ?? rest.endIndex
        var dateStart = space
        while dateStart < rest.endIndex, rest[dateStart] == UInt8(ascii: " ") {
            dateStart += 1
        }
        return FromLine(
            sender: String(decoding: rest[..<space], as: UTF8.self),
            date: String(decoding: rest[dateStart...], as: UTF8.self)
        )
    }

    /// `Thu Jan  1 00:00:00 1970`: asctime(3) in UTC, the day of month padded with a space.
    public static func asctime(_ seconds: Int64) -> String {
        MailDate.asctime(seconds)
    }
}
