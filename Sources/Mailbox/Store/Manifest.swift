#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The integrity manifest of a Maildir (or Maildir++ folder): the file
/// ``Manifest/fileName`` in its directory, one line per message, `sha256hex uniquename`,
/// recording the SHA-256 of the file as it was stored. Later lines override earlier ones.
public enum Manifest {
    /// The manifest's file name inside the Maildir directory.
    public static let fileName = ".postoffice-manifest"

    /// Reads a manifest; missing file means empty. Malformed lines are skipped.
    static func read(_ path: String) throws -> [String: String] {
        guard FileSystem.status(path) != nil else { return [:] }
        let bytes = try FileSystem.readFile(path)
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
    static func write(_ entries: [String: String], to path: String) throws {
        var text = ""
        for name in entries.keys.sorted() { text += "\(entries[name]!) \(name)\n" }  // safe: key from keys
        try FileSystem.writeAtomically(Array(text.utf8), to: path)
    }

    /// Appends one line under an exclusive `flock`, so concurrent writers never interleave.
    static func append(digest: String, uniqueName: String, to path: String) throws {
        try append([(digest, uniqueName)], to: path)
    }

    /// Appends lines (`digest uniquename`) in one write and one fsync, under an exclusive `flock`.
    static func append(_ entries: [(digest: String, uniqueName: String)], to path: String) throws {
        guard !entries.isEmpty else { return }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileSystemError(path: path, operation: "open", code: errno) }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw FileSystemError(path: path, operation: "lock", code: errno) }
        defer { flock(descriptor, LOCK_UN) }
        var text = ""
        for entry in entries { text += "\(entry.digest) \(entry.uniqueName)\n" }
        try FileSystem.writeAll(descriptor, Array(text.utf8), path: path)
        guard fsync(descriptor) == 0 else { throw FileSystemError(path: path, operation: "fsync", code: errno) }
    }
}

/// Where a stored message lives, from a Maildir root and a file name as the fetch engine
/// knows it: `new/NAME`, `cur/NAME:2,S`, `.Folder/new/NAME`, or a bare `NAME`.
struct MaildirFileReference {
    var folder: String
    var folderPath: String
    var uniqueName: String
    var fileName: String

    init(maildir: String, fileName: String) throws {
        let components = fileName.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let last = components.last, !components.contains(".."), !fileName.hasPrefix("/") else {
            throw MailboxError.invalidFileName(fileName)
        }
        var folder = ""
        if components.count >= 2, components[0].hasPrefix(".") {
            folder = Maildir.normalisedFolder(components[0])
        }
        self.folder = folder
        self.folderPath = Maildir.path(root: maildir, folder: folder)
        self.uniqueName = Maildir.uniqueName(last)
        self.fileName = last
    }

    /// The message's current path: as given if it exists, else found in `new/` or `cur/`
    /// under any flags (another program may have moved it since).
    func locate() -> (subdirectory: String, fileName: String)? {
        for subdirectory in Maildir.mailSubdirectories {
            if FileSystem.status(FileSystem.join(FileSystem.join(folderPath, subdirectory), fileName))?.isRegularFile
                == true
            {
                return (subdirectory, fileName)
            }
        }
        for subdirectory in Maildir.mailSubdirectories {
            let names = (try? FileSystem.listVisible(FileSystem.join(folderPath, subdirectory))) ?? []
            if let match = names.first(where: { Maildir.uniqueName($0) == uniqueName }) { return (subdirectory, match) }
        }
        return nil
    }
}
