// The state files other POP3 clients keep of what they downloaded, read for
// `--import-state` so that switching to PostOffice does not fetch everything again.
// Pure parsing of untrusted bytes: never fails, never reads a file (the caller does).
import Foundation
public import MailCore

/// The programs whose state files can be imported.
public enum StateFileFormat: String, Hashable, Sendable, CaseIterable {
    /// fetchmail's `.fetchids`: lines `user@host uid` (messages left on the server).
    case fetchmail
    /// getmail's `oldmail-<server>-<port>-<user>`: lines `uid NUL timestamp`.
    case getmail
    /// mpop's UIDLS file (`~/.mpop_uidls/USER_at_HOST`): `#` comments, a line
    /// ` <count> <host> <user>` starting each list, then that many uids, one per line.
    case mpop
    /// Thunderbird's `popstate.dat`: `# POP3 State File`, `*host user` starting each
    /// account, then `<k|d|b|f> uid timestamp` lines.
    case thunderbird
}

/// One unique id read from another program's state file.
public struct ImportedUniqueID: Hashable, Sendable {
    /// The server's UIDL (RFC 1939 §7).
    public var uniqueID: UniqueID
    /// When the other program downloaded it (Unix seconds), or the import time if the file
    /// does not say.
    public var firstDownloaded: Int64
    /// Whether only the header was downloaded (Thunderbird's truncated messages).
    public var headersOnly: Bool

    public init(uniqueID: UniqueID, firstDownloaded: Int64, headersOnly: Bool = false) {
        self.uniqueID = uniqueID
        self.firstDownloaded = firstDownloaded
        self.headersOnly = headersOnly
    }
}

extension StateFileFormat {
    /// The unique ids in `bytes` (a file in this format) that belong to `user` at `host`
    /// (the host compared without regard to case). Lines that do not parse are skipped.
    public func parse(_ bytes: [UInt8], user: String, host: String, now: Int64) -> [ImportedUniqueID] {
        let lines = Self.lines(bytes)
        func entry(_ uid: Substring, at time: Int64 = now, headersOnly: Bool = false) -> ImportedUniqueID? {
            guard let uniqueID = UniqueID(bytes: uid.utf8) else { return nil }
            return ImportedUniqueID(uniqueID: uniqueID, firstDownloaded: time, headersOnly: headersOnly)
        }
        func sameHost(_ other: Substring) -> Bool { other.lowercased() == host.lowercased() }

        var result: [ImportedUniqueID] = []
        switch self {
        case .fetchmail:
            for line in lines {
                let trimmed = line.drop { $0 == " " || $0 == "\t" }
                guard let space = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) else { continue }
                let owner = trimmed[..<space]
                guard let at = owner.lastIndex(of: "@") else { continue }
                var uid = trimmed[space...].drop { $0 == " " || $0 == "\t" }
                uid = uid.prefix { $0 != " " && $0 != "\t" }
                if uid.count >= 2, uid.first == "\"", uid.last == "\"" { uid = uid.dropFirst().dropLast() }
                guard owner[..<at] == user, sameHost(owner[owner.index(after: at)...]),
                    let imported = entry(uid)
                else { continue }
                result.append(imported)
            }
        case .getmail:
            for line in lines {
                let parts = line.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, let time = Int64(parts[1].trimmingCharacters(in: .whitespaces)),
                    let imported = entry(parts[0], at: time)
                else { continue }
                result.append(imported)
            }
        case .mpop:
            var remaining = 0
            var matches = false
            for line in lines {
                if remaining > 0 {
                    remaining -= 1
                    if matches, let imported = entry(line) { result.append(imported) }
                    continue
                }
                guard line.first == " " else { continue }  // comments, blank lines, a version header
                let fields = line.split(separator: " ")
                guard fields.count == 3, let count = Int(fields[0]), count >= 0 else { continue }
                remaining = count
                matches = sameHost(fields[1]) && fields[2] == user
            }
        case .thunderbird:
            var matches = false
            for line in lines {
                if line.hasPrefix("#") || line.isEmpty { continue }
                if line.hasPrefix("*") {
                    let fields = line.dropFirst().split(separator: " ", maxSplits: 1)
                    matches = fields.count == 2 && sameHost(fields[0]) && fields[1] == user
                    continue
                }
                guard matches else { continue }
                let fields = line.split(separator: " ")
                guard fields.count >= 2, let flag = fields[0].first, fields[0].count == 1 else { continue }
                let time = fields.count >= 3 ? Int64(fields[2]) ?? now : now
                switch flag {
                case "k", "d":
                    if let imported = entry(fields[1], at: time) { result.append(imported) }
                case "b", "f":
                    // Truncated (headers only) in Thunderbird: complete it here when allowed.
                    if let imported = entry(fields[1], at: time, headersOnly: true) { result.append(imported) }
                default:
                    continue
                }
            }
        }
        return result
    }

    /// The lines of a file, LF or CRLF ended. Split as bytes, not Characters: "\r\n" is one
    /// Character in Swift.
    static func lines(_ bytes: [UInt8]) -> [Substring] {
        bytes.split(separator: 10, omittingEmptySubsequences: false).map { line in
            Substring(String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self))
        }
    }

    /// The formats `bytes` could be in: each format's every line must fit it and at least one
    /// line must be its own (a header, or an entry). An empty file, or one of comments only,
    /// fits every format: the caller then asks for `KIND:FILE`.
    ///
    /// - fetchmail `.fetchids`: `user@host uid` lines.
    /// - getmail `oldmail-*`: `uid NUL timestamp` lines.
    /// - mpop: `# This file was generated by mpop` (or a `MPOP_UIDLS_VERSION` line), and
    ///   ` COUNT HOST USER` lines each followed by COUNT uids.
    /// - Thunderbird `popstate.dat`: `# POP3 State File`, `*HOST USER` lines, `FLAG uid time` lines.
    public static func recognise(_ bytes: [UInt8]) -> [Self] {
        let lines = Self.lines(bytes)
        let content = lines.filter { !$0.isEmpty }
        if content.allSatisfy({ $0.hasPrefix("#") }) {
            if content.first?.hasPrefix("# POP3 State File") == true { return [.thunderbird] }
            if content.contains(where: { $0.contains("generated by mpop") }) { return [.mpop] }
            return allCases
        }
        return allCases.filter { $0.fits(content) }
    }

    private func fits(_ lines: [Substring]) -> Bool {
        switch self {
        case .fetchmail:
            return lines.allSatisfy { line in
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                return fields.count == 2 && fields[0].dropFirst().contains("@") && !line.hasPrefix(" ")
                    && !line.contains("\u{0}")
            }
        case .getmail:
            return lines.allSatisfy { line in
                let parts = line.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
                return parts.count == 2 && !parts[0].isEmpty
                    && Int64(parts[1].trimmingCharacters(in: .whitespaces)) != nil
            }
        case .mpop:
            var remaining = 0
            var sawList = false
            for line in lines {
                if remaining > 0 {
                    remaining -= 1
                    guard !line.contains(" ") else { return false }
                    continue
                }
                if line.hasPrefix("#") || line.hasPrefix("MPOP_UIDLS_VERSION ") { continue }
                let fields = line.split(separator: " ")
                guard line.hasPrefix(" "), fields.count == 3, let count = Int(fields[0]), count >= 0 else {
                    return false
                }
                remaining = count
                sawList = true
            }
            return sawList && remaining == 0
        case .thunderbird:
            var sawAccount = false
            for line in lines where !line.hasPrefix("#") {
                if line.hasPrefix("*") {
                    guard line.dropFirst().split(separator: " ", maxSplits: 1).count == 2 else { return false }
                    sawAccount = true
                    continue
                }
                let fields = line.split(separator: " ")
                guard sawAccount, (2...3).contains(fields.count), fields[0].count == 1, "kdbf".contains(fields[0]),
                    fields.count == 2 || Int64(fields[2]) != nil
                else { return false }
            }
            return sawAccount
        }
    }
}
