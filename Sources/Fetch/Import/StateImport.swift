// Importing what other POP3 clients already downloaded, so switching does not fetch it again.
import FileIO
import Foundation
import SystemPackage

/// A state file of another program, to import (`--import-state FORMAT:FILE`).
public struct StateImport: Hashable, Sendable {
    public enum Format: String, Hashable, Sendable, CaseIterable {
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

    public var format: Format
    public var path: String

    public init(format: Format, path: String) {
        self.format = format
        self.path = path
    }

    /// Parses `FORMAT:FILE`.
    public init?(argument: String) {
        guard let colon = argument.firstIndex(of: ":"),
            let format = Format(rawValue: String(argument[..<colon]).lowercased())
        else { return nil }
        let path = String(argument[argument.index(after: colon)...])
        guard !path.isEmpty else { return nil }
        self.init(format: format, path: path)
    }
}

/// Parsers of the formats in `StateImport.Format`.
enum StateImporter {
    /// Reads the file and records its unique ids for `account` (only those not yet known).
    /// Returns how many were new.
    static func importState(_ item: StateImport, into store: FetchStateStore, account: FetchAccount, now: Int64)
        throws -> Int
    {
        guard let data = try? FileSystem.readFile(FilePath(item.path)) else {
            throw FetchFailure(kind: .configuration, message: "cannot read \(item.path) to import")
        }
        let entries = parse(item.format, data, user: account.user, host: account.host, now: now)
        return try store.recordIfAbsent(entries)
    }

    /// The entries of the file that belong to `user` at `host`. Imported entries have no size and
    /// no known location: they are trusted as "stored" and never deleted for "deleted locally".
    static func parse(_ format: StateImport.Format, _ bytes: [UInt8], user: String, host: String, now: Int64)
        -> [FetchStateEntry]
    {
        // Split bytes, not Characters: "\r\n" is one Character in Swift.
        let lines: [Substring] = bytes.split(separator: 10, omittingEmptySubsequences: false).map { line in
            Substring(String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self))
        }
        func entry(_ uid: Substring, at time: Int64 = now, headersOnly: Bool = false) -> FetchStateEntry? {
            guard isValidUniqueID(uid) else { return nil }
            return FetchStateEntry(
                uniqueID: String(uid),
                size: nil,
                firstDownloaded: time,
                location: "",
                headersOnly: headersOnly
            )
        }
        func sameHost(_ other: Substring) -> Bool { other.lowercased() == host.lowercased() }

        var result: [FetchStateEntry] = []
        switch format {
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

    /// RFC 1939 §7: 1 to 70 characters in 0x21–0x7E.
    static func isValidUniqueID(_ uid: Substring) -> Bool {
        !uid.isEmpty && uid.utf8.count <= 70 && uid.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }
}
