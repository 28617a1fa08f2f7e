/// Reads RFC 5322 §3.3 date-times leniently, including the obsolete forms of §4.3 (two-digit
/// years, zone names) and the asctime layout of mbox `From ` lines.
public enum MessageDate {
    /// Seconds since 1970-01-01T00:00:00Z, or nil when no date can be read.
    public static func parse(_ text: String) -> Int64? {
        var tokens: [Substring] = []
        var depth = 0
        var current = ""
        for character in text {
            if character == "(" { depth += 1; continue }
            if character == ")" { depth = max(0, depth - 1); continue }
            if depth > 0 { continue }
            if character.isWhitespace || character == "," {
                if !current.isEmpty { tokens.append(Substring(current)); current = "" }
            } else {
                current.append(character)
            }
            if tokens.count > 20 { break }
        }
        if !current.isEmpty { tokens.append(Substring(current)) }

        var day: Int?
        var month: Int?
        var year: Int?
        var time: (Int, Int, Int)?
        var offset = 0
        for token in tokens {
            if let value = monthNumber(token) {
                if month == nil { month = value }
                continue
            }
            if time == nil, token.contains(":"), let parsed = parseTime(token) {
                time = parsed
                continue
            }
            if token.first == "+" || token.first == "-", token.count == 5, let value = Int(token.dropFirst()) {
                let sign = token.first == "-" ? -1 : 1
                offset = sign * ((value / 100) * 3600 + (value % 100) * 60)
                continue
            }
            if let zone = zoneOffsets[token.uppercased()] {
                offset = zone * 3600
                continue
            }
            if token.allSatisfy(\.isNumber), let value = Int(token), token.count <= 4 {
                if token.count <= 2, day == nil, value >= 1, value <= 31 {
                    day = value
                } else if year == nil {
                    year = normalisedYear(value, digits: token.count)
                }
            }
        }
        guard let day, let month, let year, year >= 1000, year < 10000 else { return nil }
        let (hour, minute, second) = time ?? (0, 0, 0)
        let days = daysFromCivil(year: year, month: month, day: day)
        return Int64(days) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
    }

    /// RFC 5322 §4.3: two-digit years below 50 are 20xx, others 19xx; three digits add 1900.
    private static func normalisedYear(_ value: Int, digits: Int) -> Int {
        switch digits {
        case 1, 2: return value < 50 ? 2000 + value : 1900 + value
        case 3: return 1900 + value
        default: return value
        }
    }

    private static func parseTime(_ token: Substring) -> (Int, Int, Int)? {
        let pieces = token.split(separator: ":", omittingEmptySubsequences: false)
        guard pieces.count == 2 || pieces.count == 3 else { return nil }
        guard let hour = Int(pieces[0]), let minute = Int(pieces[1]), (0...23).contains(hour), (0...59).contains(minute)
        else { return nil }
        var second = 0
        if pieces.count == 3 {
            guard let value = Int(pieces[2].prefix(2)), (0...60).contains(value) else { return nil }
            second = value
        }
        return (hour, minute, second)
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    private static func monthNumber(_ token: Substring) -> Int? {
        guard token.count >= 3, token.allSatisfy(\.isLetter) else { return nil }
        let prefix = token.prefix(3).lowercased()
        guard let index = months.firstIndex(of: prefix) else { return nil }
        return index + 1
    }

    /// RFC 5322 §4.3 obsolete zones; military letters other than Z carry no reliable meaning
    /// and count as +0000 as the RFC advises.
    private static let zoneOffsets: [String: Int] = {
        var zones = [
            "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7,
            "MDT": -6, "PST": -8, "PDT": -7,
        ]
        for letter in "ABCDEFGHIKLMNOPQRSTUVWXY" { zones[String(letter)] = 0 }
        return zones
    }()

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }
}
