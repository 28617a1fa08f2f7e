// Importing what other POP3 clients already downloaded, so switching does not fetch it again.
public import FileFormats
import FileIO
import Foundation
import MailCore
import SystemPackage

/// A state file of another program, to import (`--import-state FORMAT:FILE`).
public struct StateImport: Hashable, Sendable {
    /// The program that wrote the file (the parsers live in FileFormats).
    public typealias Format = StateFileFormat

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

/// Reads the formats in `StateImport.Format` into the fetch state.
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
        format.parse(bytes, user: user, host: host, now: now).map { imported in
            FetchStateEntry(
                uniqueID: imported.uniqueID,
                size: nil,
                firstDownloaded: imported.firstDownloaded,
                location: "",
                headersOnly: imported.headersOnly
            )
        }
    }
}
