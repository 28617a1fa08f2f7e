import FileIO
import MailStore
import SystemPackage

/// The integrity manifest of a Maildir (or Maildir++ folder): the file
/// ``Manifest/fileName`` in its directory, one line per message, `sha256hex uniquename`,
/// recording the SHA-256 of the file as it was stored. Later lines override earlier ones.
public enum Manifest {
    /// The manifest's file name inside the Maildir directory.
    public static let fileName = ".postoffice-manifest"

    /// Reads a manifest; missing file means empty. Malformed lines are skipped.
    static func read(_ path: FilePath) throws -> [String: String] {
        guard let (bytes, _) = try FileSystem.readFileIfExists(path) else { return [:] }
        var entries: [String: String] = [:]
        for line in bytes.split(separator: Byte.lf) {
            guard let space = line.firstIndex(of: Byte.space) else { continue }
            let digest = Bytes.lowercaseASCII(line[line.startIndex..<space])
            let name = String(decoding: line[(space + 1)...], as: UTF8.self)
            guard digest.count == 64, digest.allSatisfy(\.isHexDigit), !name.isEmpty else { continue }
            entries[name] = digest
        }
        return entries
    }

    /// Rewrites a manifest atomically, sorted by name.
    static func write(_ entries: [String: String], to path: FilePath) throws {
        var text = ""
        for name in entries.keys.sorted() { text += "\(entries[name]!) \(name)\n" }  // safe: key from keys
        try FileSystem.replaceAtomically(path, with: Array(text.utf8), permissions: 0o644)
    }

    /// Appends one line under an exclusive `flock`, so concurrent writers never interleave.
    static func append(digest: String, uniqueName: String, to path: FilePath) throws {
        try append([(digest, uniqueName)], to: path)
    }

    /// Appends lines (`digest uniquename`) in one write and one fsync, under an exclusive `flock`.
    static func append(_ entries: [(digest: String, uniqueName: String)], to path: FilePath) throws {
        guard !entries.isEmpty else { return }
        let file = try File.open(
            path,
            .writeOnly,
            options: [.create, .append],
            permissions: [.ownerReadWrite, .groupRead, .otherRead]
        )
        defer { file.closeQuietly() }
        try file.lock(wait: true)
        defer { file.unlock() }
        var text = ""
        for entry in entries { text += "\(entry.digest) \(entry.uniqueName)\n" }
        try file.write(Array(text.utf8))
        try file.sync()
    }
}

/// Where a stored message lives, from a Maildir root and a file name as the fetch engine
/// knows it: `new/NAME`, `cur/NAME:2,S`, `.Folder/new/NAME`, or a bare `NAME`.
struct MaildirFileReference {
    var folder: String
    var maildir: Maildir
    var uniqueName: String
    var fileName: String

    init(maildir root: String, fileName: String) throws {
        let components = fileName.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let last = components.last, !components.contains(".."), !fileName.hasPrefix("/") else {
            throw MailboxError.invalidFileName(fileName)
        }
        var folder = ""
        if components.count >= 2, components[0].hasPrefix(".") {
            folder = MaildirFolder.normalised(components[0])
        }
        self.folder = folder
        self.maildir = MaildirFolder.maildir(root: root, folder: folder)
        self.uniqueName = MaildirFolder.uniqueName(last)
        self.fileName = last
    }

    /// The message's current location: as given if it exists, else found in `new/` or `cur/`
    /// under any flags (another program may have moved it since).
    func locate() -> MaildirLocation? {
        guard let name = MaildirFilename(parsing: self.fileName) else { return nil }
        for subdirectory in MaildirSubdirectory.allCases {
            let location = MaildirLocation(subdirectory: subdirectory, name: name)
            if (try? FileSystem.status(self.maildir.path(of: location)))?.isRegularFile == true {
                return location
            }
        }
        return try? self.maildir.locate(baseName: name.baseName)
    }
}
