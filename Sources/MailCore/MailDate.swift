// Dates as mail writes them, in UTC, formatted from the seconds by hand: the RFC 5322 §3.3
// date-time of trace headers and the asctime(3) layout of mbox `From ` lines. Both are
// fixed-width English, so no locale, time zone database or formatter object is involved (building
// a Foundation `DateFormatter` per message cost a fetch a tenth of its CPU).

/// UTC calendar fields of a moment, and the two layouts mail uses.
public struct MailDate: Hashable, Sendable {
    public var year: Int
    /// 1–12.
    public var month: Int
    /// 1–31.
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    /// 0 = Sunday … 6 = Saturday.
    public var weekday: Int

    /// The UTC fields of `seconds` since 1970-01-01T00:00:00Z (negative: before it).
    public init(seconds: Int64) {
        let days = Int(seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400)
        let secondOfDay = Int(seconds - Int64(days) * 86400)
        (year, month, day) = Self.civil(fromDays: days)
        hour = secondOfDay / 3600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60
        weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday (4)
    }

    static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Thu, 13 Feb 2025 10:00:00 +0000` (RFC 5322 §3.3 `date-time`, two-digit day, UTC).
    public static func rfc5322(_ seconds: Int64) -> String {
        let date = MailDate(seconds: seconds)
        return "\(weekdayNames[date.weekday]), \(two(date.day)) \(monthNames[date.month - 1]) \(date.year) "
            + "\(date.time) +0000"
    }

    /// `Thu Jan  1 00:00:00 1970`: asctime(3) in UTC, the day of month padded with a space.
    public static func asctime(_ seconds: Int64) -> String {
        let date = MailDate(seconds: seconds)
        let paddedDay = date.day < 10 ? " \(date.day)" : "\(date.day)"
        return "\(weekdayNames[date.weekday]) \(monthNames[date.month - 1]) \(paddedDay) \(date.time) \(date.year)"
    }

    /// `HH:MM:SS`.
    private var time: String { "\(Self.two(hour)):\(Self.two(minute)):\(Self.two(second))" }

    private static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// (year, month, day) of a day number counted from 1970-01-01, proleptic Gregorian
    /// (H. Hinnant's `civil_from_days`).
    public static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
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
