// Adding and removing `[[account]]` tables in the fetch configuration file while keeping
// everything else a person wrote in it (comments, order, other accounts) as it was.

import FileFormats
import FileIO
import Foundation
import Mailbox
import SystemPackage

/// The fetch configuration file (`fetch.toml`) as text, for `postoffice account`.
struct FetchConfigFile: Sendable {
    let path: String

    /// The file's text; nil when it does not exist yet.
    func read() async throws -> String? {
        let path = self.path
        let data = try await BlockingIO.run { () -> Data? in
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigError("cannot read \(path)")
            }
            return data
        }
        return data.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The accounts the file defines (none when it does not exist).
    func accounts() async throws -> [FetchAccountSettings] {
        guard let text = try await self.read() else { return [] }
        return try FetchFileSettings(text: text, path: self.path).accounts
    }

    /// `text` with `entry` appended as a new `[[account]]` table; checked by reading it back.
    func adding(_ entry: AccountEntry, to text: String?) throws -> String {
        var result = text ?? Self.header
        if !result.isEmpty && !result.hasSuffix("\n") { result += "\n" }
        if !result.isEmpty && !result.hasSuffix("\n\n") { result += "\n" }
        result += entry.tomlText
        let settings = try FetchFileSettings(text: result, path: self.path)
        guard settings.accounts.contains(where: { $0.name == entry.name }) else {
            throw ConfigError("\(self.path): the new account could not be read back")
        }
        return result
    }

    /// `text` without the `[[account]]` table named `name` (from its header to the next header).
    /// A later table without a `name` gets the name fetch gave it (`accountN` by position), so
    /// that its state, which is keyed by that name, stays its own.
    func removing(account name: String, from text: String) throws -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let headers = lines.indices.filter { Self.isTableHeader(lines[$0]) }
        var accountIndex = 0
        for (position, start) in headers.enumerated() {
            guard Self.isAccountHeader(lines[start]) else { continue }
            defer { accountIndex += 1 }
            let end = position + 1 < headers.count ? headers[position + 1] : lines.count
            let block = lines[start..<end].joined(separator: "\n")
            guard Self.name(ofAccountBlock: block, index: accountIndex) == name else { continue }
            // Later unnamed tables, last first so that earlier line numbers stay valid.
            var laterIndex = accountIndex
            var unnamed: [(line: Int, name: String)] = []
            for (laterPosition, laterStart) in headers.enumerated() where laterStart > start {
                guard Self.isAccountHeader(lines[laterStart]) else { continue }
                laterIndex += 1
                let laterEnd = laterPosition + 1 < headers.count ? headers[laterPosition + 1] : lines.count
                let laterBlock = lines[laterStart..<laterEnd].joined(separator: "\n")
                if !Self.hasName(laterBlock) { unnamed.append((laterStart, "account\(laterIndex + 1)")) }
            }
            for (line, implicitName) in unnamed.reversed() {
                lines.insert("name = \(tomlQuoted(implicitName))", at: line + 1)
            }
            lines.removeSubrange(start..<end)
            // Do not leave two blank lines where the table was.
            while start > 0, start < lines.count, lines[start - 1].isEmpty, lines[start].isEmpty {
                lines.remove(at: start)
            }
            let result = lines.joined(separator: "\n")
            _ = try FetchFileSettings(text: result, path: self.path)
            return result
        }
        throw ConfigError("\(self.path) has no account named '\(name)'")
    }

    /// Writes `text` atomically (readers see the old file or the new one, never a mix).
    func write(_ text: String) async throws {
        let path = self.path
        try await BlockingIO.run { try Self.replace(path, with: Array(text.utf8)) }
    }

    static let header = """
        # Accounts for `postoffice fetch`. `postoffice account add ADDRESS` adds one; edit freely.
        # Keys: README.md, "Fetching mail".

        """

    // MARK: - Text

    static func isTableHeader(_ line: String) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.hasPrefix("[") && !trimmed.hasPrefix("[\"") && trimmed.contains("]")
            && !trimmed.contains("=")
    }

    static func isAccountHeader(_ line: String) -> Bool {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        let withoutComment = trimmed.split(separator: "#", maxSplits: 1).first.map(String.init) ?? trimmed
        return withoutComment.filter { $0 != " " && $0 != "\t" } == "[[account]]"
    }

    /// Whether an `[[account]]` block sets `name`.
    static func hasName(_ block: String) -> Bool {
        guard case .array(let tables)? = (try? TOML.parse(block))?["account"],
            case .table(let table)? = tables.first
        else { return false }
        return table["name"] != nil
    }

    /// The `name` of one `[[account]]` block; `accountN` when it has none (as fetch reads it).
    static func name(ofAccountBlock block: String, index: Int) -> String? {
        guard case .array(let tables)? = (try? TOML.parse(block))?["account"],
            case .table(let table)? = tables.first
        else { return nil }
        if case .string(let name)? = table["name"] { return name }
        return "account\(index + 1)"
    }

    // MARK: - Writing

    /// The file replaced atomically (FileIO: a temporary file, fsynced, renamed over the old
    /// one, the directory fsynced); a new file and its new directories are private to the user,
    /// an existing file keeps its mode.
    private static func replace(_ path: String, with bytes: [UInt8]) throws {
        let filePath = FilePath(path)
        do throws(FileIOError) {
            try FileSystem.createDirectories(FileSystem.parent(of: filePath))
            try FileSystem.replaceAtomically(filePath, with: bytes, permissions: 0o600)
        } catch {
            throw ConfigError("cannot write \(path): \(error.errno)")
        }
    }
}

/// What `account add` writes for one account.
struct AccountEntry: Sendable, Equatable {
    var name: String
    var host: String
    var port: Int
    var tls: FetchAccountSettings.TLSMode
    var user: String
    var password: FetchAccountSettings.PasswordSource
    var retention: FetchAccountSettings.Retention
    var caFile: String?
    var fingerprint: String?
    var target: String?
    /// Where the settings came from, for the comment above the table.
    var foundBy: String

    var tomlText: String {
        var lines = ["# \(Self.commentSafe(foundBy))", "[[account]]"]
        func add(_ key: String, _ value: String) { lines.append("\(key) = \(tomlQuoted(value))") }
        add("name", name)
        add("host", host)
        lines.append("port = \(port)")
        add("tls", tls.rawValue)
        add("user", user)
        switch password {
        case .file(let path): add("password_file", path)
        case .command(let command): add("password_command", command)
        case .environment(let variable): add("password_env", variable)
        }
        switch retention {
        case .deleteAfterDownload: break
        case .keep: lines.append("keep = true")
        case .keepDays(let days): lines.append("keep_days = \(days)")
        }
        if let caFile { add("ca_file", caFile) }
        if let fingerprint { add("fingerprint", fingerprint) }
        if let target { add("to", target) }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func commentSafe(_ text: String) -> String {
        String(text.map { $0.isNewline ? " " : $0 })
    }
}

/// A TOML basic string. JSON's string syntax, as `JSONText.quoted` writes it (`\"`, `\\`, `\n`,
/// `\r`, `\t`, other control characters as `\uXXXX`), is valid TOML 1.0 basic-string syntax.
func tomlQuoted(_ value: String) -> String {
    JSONText.quoted(value)
}
