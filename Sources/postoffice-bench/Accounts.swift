// The accounts a workload logs in as: from a file of `user:password` lines or a numbered pattern.

import Foundation

/// A user name and password to log in with (USER/PASS, RFC 1939 §7).
struct Account: Hashable, Sendable {
    var user: String
    var password: String

    /// Parses `user:password`; the password is everything after the first colon.
    init?(parsing text: Substring) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else { return nil }
        self.user = String(text[..<colon])
        self.password = String(text[text.index(after: colon)...])
    }

    init(user: String, password: String) {
        self.user = user
        self.password = password
    }
}

enum AccountList {
    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    /// Accounts from the text of an accounts file: one `user:password` per line; blank lines and
    /// lines starting with `#` are skipped.
    static func parse(_ text: String) throws(Invalid) -> [Account] {
        var accounts: [Account] = []
        // isNewline: "\r\n" is one Character, so splitting on "\n" alone would keep the CR.
        for (number, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let account = Account(parsing: line) else {
                throw Invalid(description: "accounts line \(number + 1): expected user:password")
            }
            accounts.append(account)
        }
        return accounts
    }

    /// Accounts numbered `first ..< first + count` from a pattern such as `s%d:pw`: each `%d`
    /// becomes the number. A pattern without `%d` names one account.
    static func expand(pattern: String, first: Int, count: Int) throws(Invalid) -> [Account] {
        guard pattern.contains("%d") || count == 1 else {
            throw Invalid(description: "account pattern \(pattern) has no %d for \(count) accounts")
        }
        guard count > 0 else { throw Invalid(description: "account count must be positive") }
        var accounts: [Account] = []
        accounts.reserveCapacity(count)
        for number in first..<(first + count) {
            let text = pattern.replacingOccurrences(of: "%d", with: String(number))
            guard let account = Account(parsing: Substring(text)) else {
                throw Invalid(description: "account pattern \(pattern): expected user:password")
            }
            accounts.append(account)
        }
        return accounts
    }
}
