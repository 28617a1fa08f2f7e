// Dovecot's passwd-file format: `user:password:uid:gid:gecos:home:shell:extra_fields`.

import MailCore

/// One account line of a passwd-file.
public struct PasswdEntry: Hashable, Sendable {
    /// The account name (field 1).
    public var user: String
    /// The stored password (field 2), possibly empty: such an account cannot log in.
    public var password: StoredPassword
    /// Fields 3 and later, as written (uid, gid, gecos, home, shell, extra fields). We read only
    /// the extra fields of ``settings``; `nopassword` in particular is ignored (an empty password
    /// never logs in).
    public var otherFields: [String]
    /// `expire_days` and `login_delay` from the extra fields (see ``AccountSettings``).
    public var settings: AccountSettings = AccountSettings()
    /// 1-based line number in the file.
    public var lineNumber: Int
}

/// A problem with one line. The text never contains the password field.
public struct PasswdFileProblem: Hashable, Sendable, CustomStringConvertible {
    /// 1-based line number.
    public var lineNumber: Int
    /// What is wrong.
    public var reason: String
    public var description: String { "line \(lineNumber): \(reason)" }
}

/// A parsed passwd-file: the usable entries and the problems found.
///
/// Blank lines and lines starting with `#` are skipped. Only the first two fields are required.
/// A line with a bad user name is skipped and reported. When a user appears twice the first line
/// counts, as in Dovecot, and the second is reported.
///
/// - SeeAlso: [Dovecot passwd-file](https://doc.dovecot.org/configuration_manual/authentication/passwd_file/)
public struct PasswdFile: Hashable, Sendable {
    /// Usable entries by user name.
    public var entries: [String: PasswdEntry]
    /// Problems, in line order.
    public var problems: [PasswdFileProblem]

    /// Parses the text of a passwd-file.
    public init(parsing text: String, defaultScheme: PasswordScheme = .defaultForStoredPasswords) {
        var entries: [String: PasswdEntry] = [:]
        var problems: [PasswdFileProblem] = []
        for (index, line) in Self.lines(of: text).enumerated() {
            let lineNumber = index + 1
            switch Self.parseLine(line, lineNumber: lineNumber, defaultScheme: defaultScheme) {
            case .skip:
                continue
            case .problem(let reason):
                problems.append(PasswdFileProblem(lineNumber: lineNumber, reason: reason))
            case .entry(let entry, let fieldProblems):
                problems += fieldProblems.map { PasswdFileProblem(lineNumber: lineNumber, reason: $0) }
                if let first = entries[entry.user] {
                    problems.append(
                        PasswdFileProblem(
                            lineNumber: lineNumber,
                            reason: "duplicate user \(entry.user) (first on line \(first.lineNumber)); ignored"
                        )
                    )
                    continue
                }
                if entry.password.scheme == nil {
                    problems.append(
                        PasswdFileProblem(
                            lineNumber: lineNumber,
                            reason: "user \(entry.user): unknown password scheme \(entry.password.schemeName)"
                        )
                    )
                }
                entries[entry.user] = entry
            }
        }
        self.entries = entries
        self.problems = problems
    }

    enum LineParse {
        case skip
        case problem(String)
        /// An account, with problems in its optional fields (the account still counts).
        case entry(PasswdEntry, [String])
    }

    /// Splits on LF or CRLF (Swift reads CRLF as one `Character`).
    static func lines(of text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    }

    static func parseLine(_ line: Substring, lineNumber: Int, defaultScheme: PasswordScheme) -> LineParse {
        let trimmed = line.drop { $0 == " " || $0 == "\t" }
        if trimmed.isEmpty || trimmed.hasPrefix("#") { return .skip }
        let fields = line.split(separator: ":", omittingEmptySubsequences: false)
        let user = String(fields[0])
        guard UserName.isValid(user) else {
            // The name may be garbage; say only that it is invalid.
            return .problem("invalid user name")
        }
        guard fields.count >= 2 else { return .problem("user \(user): missing password field") }
        var entry = PasswdEntry(
            user: user,
            password: StoredPassword(field: String(fields[1]), defaultScheme: defaultScheme),
            otherFields: fields.dropFirst(2).map(String.init),
            lineNumber: lineNumber
        )
        var problems: [String] = []
        if fields.count > Self.extraFieldsIndex {
            // The extra fields are the rest of the line: their values may hold colons (Dovecot's
            // `userdb_mail=maildir:~/Maildir`).
            let extra = line[fields[Self.extraFieldsIndex].startIndex...]
            (entry.settings, problems) = AccountSettings.parse(extraFields: extra)
        }
        return .entry(entry, problems.map { "user \(user): \($0); the site's setting applies" })
    }

    /// `user:password:uid:gid:gecos:home:shell:extra_fields`: the extra fields are the eighth.
    static let extraFieldsIndex = 7
}
