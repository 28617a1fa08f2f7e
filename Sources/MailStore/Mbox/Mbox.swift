// The mbox format as mboxrd writes and reads it (RFC 4155 describes the family): each message
// starts with a `From ` line at the start of the file or after an empty line; body lines that
// start with `From ` after any number of `>` get one more `>` on writing and lose one on reading
// (MboxQuoting.swift). This file holds the `From ` line: its format and its parse.

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
        let days = Int(seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400)
        let secondOfDay = Int(seconds - Int64(days) * 86400)
        let (year, month, day) = Self.civil(fromDays: days)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let weekday = weekdays[((days % 7) + 7) % 7]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let paddedDay = day < 10 ? " \(day)" : "\(day)"
        let time = "\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))"
        return "\(weekday) \(months[month - 1]) \(paddedDay) \(time) \(year)"
    }

    /// (year, month, day) of a day number counted from 1970-01-01 (H. Hinnant's algorithm).
    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let shifted = days + 719468
        let era = (shifted >= 0 ? shifted : shifted - 146096) / 146097
        let dayOfEra = shifted - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
