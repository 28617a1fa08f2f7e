public import Foundation

/// A parsed `mail search` query.
///
/// Terms, all of which must hold:
/// - `from:TEXT`, `to:TEXT` (To, Cc, Bcc), `subject:TEXT`: words in that field; in from/to the
///   last word may be a prefix (`from:ali` finds Alice).
/// - `before:YYYY-MM-DD` (earlier than that day), `after:YYYY-MM-DD` (that day or later), in
///   local time.
/// - `has:attachment`.
/// - any other word or `"quoted phrase"`: in the decoded text, subject, names or attachment
///   names; `-word` excludes.
/// Values may be quoted: `subject:"weekly report"`.
public struct SearchQuery: Sendable, Equatable {
    public enum Field: String, Sendable, Equatable {
        case from, to, subject
    }

    public enum Term: Sendable, Equatable {
        case field(Field, String)
        case text(String, negated: Bool)
        case before(Int64)
        case after(Int64)
        case hasAttachment
    }

    public var terms: [Term]

    public init(terms: [Term]) {
        self.terms = terms
    }

    /// Parses the query text. `timeZone` sets where days start (the local zone by default).
    public init(parsing text: String, timeZone: TimeZone = .current) throws {
        var terms: [Term] = []
        for token in Self.tokenize(text) {
            let (key, value, quoted) = token
            switch key?.lowercased() {
            case "from"?: terms.append(.field(.from, value))
            case "to"?: terms.append(.field(.to, value))
            case "subject"?: terms.append(.field(.subject, value))
            case "before"?: terms.append(.before(try Self.day(value, timeZone: timeZone)))
            case "after"?: terms.append(.after(try Self.day(value, timeZone: timeZone)))
            case "has"?:
                guard ["attachment", "attachments"].contains(value.lowercased()) else {
                    throw MailboxError.invalidQuery("unknown has:\(value) (only has:attachment)")
                }
                terms.append(.hasAttachment)
            case let other?:
                terms.append(.text(other + ":" + value, negated: false))
            case nil:
                if !quoted, value.hasPrefix("-"), value.count > 1 {
                    terms.append(.text(String(value.dropFirst()), negated: true))
                } else {
                    terms.append(.text(value, negated: false))
                }
            }
        }
        self.terms = terms.filter { term in
            if case .field(_, let value) = term { return !value.isEmpty }
            if case .text(let value, _) = term { return !value.isEmpty }
            return true
        }
    }

    /// Midnight starting the day `YYYY-MM-DD` in `timeZone`, as seconds since the epoch.
    static func day(_ text: String, timeZone: TimeZone) throws -> Int64 {
        let pieces = text.split(separator: "-", omittingEmptySubsequences: false)
        guard pieces.count == 3, pieces[0].count == 4, let year = Int(pieces[0]), let month = Int(pieces[1]),
            let day = Int(pieces[2]), (1...12).contains(month), (1...31).contains(day)
        else { throw MailboxError.invalidQuery("'\(text)' is not a date (YYYY-MM-DD)") }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        guard let date = calendar.date(from: DateComponents(year: year, month: month, day: day)) else {
            throw MailboxError.invalidQuery("'\(text)' is not a date (YYYY-MM-DD)")
        }
        return Int64(date.timeIntervalSince1970.rounded(.down))
    }

    /// Splits on whitespace outside quotes into (key, value, value was quoted).
    static func tokenize(_ text: String) -> [(String?, String, Bool)] {
        var tokens: [(String?, String, Bool)] = []
        var key: String?
        var value = ""
        var quoted = false
        var inQuotes = false
        func finish() {
            if key != nil || !value.isEmpty { tokens.append((key, value, quoted)) }
            key = nil
            value = ""
            quoted = false
        }
        for character in text {
            if character == "\"" {
                inQuotes.toggle()
                quoted = true
                continue
            }
            if !inQuotes, character.isWhitespace {
                finish()
                continue
            }
            if !inQuotes, !quoted, key == nil, character == ":", !value.isEmpty, value.allSatisfy(\.isLetter) {
                key = value
                value = ""
                continue
            }
            value.append(character)
        }
        finish()
        return tokens
    }
}
