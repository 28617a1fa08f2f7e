import GRDB

extension MailIndex {
    /// Runs a query; newest first.
    func search(_ query: SearchQuery, folder: String?, limit: Int?) throws -> [MessageSummary] {
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        var match: [String] = []
        if let folder {
            conditions.append("folder = ?")
            arguments.append(folder)
        }
        for term in query.terms {
            switch term {
            case .before(let seconds):
                conditions.append("date < ?")
                arguments.append(seconds)
            case .after(let seconds):
                conditions.append("date >= ?")
                arguments.append(seconds)
            case .hasAttachment:
                conditions.append("attachment_count > 0")
            case .field(let field, let value):
                let column: String
                switch field {
                case .from: column = "sender"
                case .to: column = "recipients"
                case .subject: column = "subject"
                }
                if let phrase = Self.ftsPhrase(value, prefix: field != .subject) {
                    match.append("\(column) : \(phrase)")
                } else {
                    let sqlColumn = field == .from ? "sender_list" : field == .to ? "recipients" : "subject"
                    conditions.append("instr(lower(\(sqlColumn)), lower(?)) > 0")
                    arguments.append(value)
                }
            case .text(let value, let negated):
                guard let phrase = Self.ftsPhrase(value, prefix: false) else { continue }
                if negated {
                    conditions.append("id NOT IN (SELECT rowid FROM message_text WHERE message_text MATCH ?)")
                    arguments.append(phrase)
                } else {
                    match.append(phrase)
                }
            }
        }
        if !match.isEmpty {
            conditions.append("id IN (SELECT rowid FROM message_text WHERE message_text MATCH ?)")
            arguments.append(match.joined(separator: " AND "))
        }
        let condition = conditions.isEmpty ? "1" : conditions.joined(separator: " AND ")
        return try database.read { db in
            try summaries(db, where: condition, arguments: StatementArguments(arguments), limit: limit)
        }
    }

    /// An FTS5 phrase for user text (every double quote doubled, RFC-free FTS5 string
    /// syntax), nil when the text has no word characters to match.
    static func ftsPhrase(_ value: String, prefix: Bool) -> String? {
        guard value.unicodeScalars.contains(where: { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        else { return nil }
        let escaped = value.replacingQuotes()
        var phrase = "\"\(escaped)\""
        if prefix, let last = value.unicodeScalars.last,
            last.properties.isAlphabetic || last.properties.numericType != nil
        {
            phrase += "*"
        }
        return phrase
    }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        var result = ""
        for character in self {
            result.append(character)
            if character == "\"" { result.append("\"") }
        }
        return result
    }
}
