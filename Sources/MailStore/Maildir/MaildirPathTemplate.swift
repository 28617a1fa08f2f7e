// The `--maildir TEMPLATE` of DESIGN.md: `%u` is the user name, as in Dovecot's mail_location.

import MailCore

/// A Maildir path template such as `/var/mail/%u/Maildir`.
///
/// `%u` is the whole user name, `%n` its local part (before the last `@`, or all of it),
/// `%d` its domain (after the last `@`), and `%%` a literal `%`. Any other `%` sequence is an
/// error when the template is parsed, so a typo does not put every user's mail in one directory.
public struct MaildirPathTemplate: Hashable, Sendable, CustomStringConvertible {
    /// A template that is not well formed.
    public struct InvalidTemplate: Error, Hashable, Sendable, CustomStringConvertible {
        /// What is wrong.
        public var description: String
    }

    private enum Segment: Hashable, Sendable {
        case literal(String)
        case user
        case localPart
        case domain
    }

    private let segments: [Segment]
    /// The template as written.
    public let description: String

    /// Parses `template`.
    public init(_ template: String) throws(InvalidTemplate) {
        guard !template.isEmpty else { throw InvalidTemplate(description: "empty Maildir template") }
        guard !template.utf8.contains(0) else { throw InvalidTemplate(description: "NUL in Maildir template") }
        var segments: [Segment] = []
        var literal = ""
        var iterator = template.makeIterator()
        while let character = iterator.next() {
            guard character == "%" else {
                literal.append(character)
                continue
            }
            let variable: Segment
            switch iterator.next() {
            case "%":
                literal.append("%")
                continue
            case "u":
                variable = .user
            case "n":
                variable = .localPart
            case "d":
                variable = .domain
            case let other:
                let shown = other.map { "%\($0)" } ?? "a trailing %"
                throw InvalidTemplate(description: "unknown variable \(shown) in Maildir template \(template)")
            }
            if !literal.isEmpty {
                segments.append(.literal(literal))
                literal = ""
            }
            segments.append(variable)
        }
        if !literal.isEmpty {
            segments.append(.literal(literal))
        }
        self.segments = segments
        self.description = template
    }

    /// The Maildir path of `user`, or `.noSuchUser` when the name is not acceptable in a path.
    ///
    /// The name is checked before it is placed in the path: it must be a valid ``UserName``
    /// (no `/`, no `..`, no control character, not `.`); each of the parts (`%n`, `%d`) the
    /// template uses must be non-empty and not `.` either.
    public func path(for user: String) throws(MailStoreError) -> String {
        guard UserName.isValid(user) else { throw .noSuchUser(user) }
        let at = user.lastIndex(of: "@")
        let localPart = at.map { String(user[..<$0]) } ?? user
        let domain = at.map { String(user[user.index(after: $0)...]) } ?? ""
        var path = ""
        for segment in self.segments {
            switch segment {
            case .literal(let text):
                path += text
            case .user:
                path += user
            case .localPart:
                guard Self.isAcceptablePart(localPart) else { throw .noSuchUser(user) }
                path += localPart
            case .domain:
                guard Self.isAcceptablePart(domain) else { throw .noSuchUser(user) }
                path += domain
            }
        }
        return path
    }

    /// Whether `part` of a valid user name (its local part or domain) may be a path component.
    private static func isAcceptablePart(_ part: String) -> Bool {
        !part.isEmpty && part != "."
    }
}
