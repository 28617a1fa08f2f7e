// Changing a passwd-file for `postoffice user add|passwd|remove|list`.

import FileIO
import MailCore
import SystemPackage

/// Adds, changes, removes and lists accounts in a Dovecot-format passwd-file.
///
/// Every change rewrites the file atomically (a temporary file in the same directory, fsynced,
/// renamed over the old one), so a reader such as ``PasswdFileAccounts`` sees the old file or the
/// new one, never a mix. Lines other than the changed one are kept byte for byte, comments,
/// blank lines and extra fields included; `setPassword` replaces only the password field. A new
/// file gets mode 0600; an existing file keeps its mode. Changes are serialized between
/// processes with `flock` on a `PATH.lock` file next to it.
///
/// This does blocking file I/O and hashing: call it from the command line, not an event loop.
public struct PasswdFileEditor: Sendable {
    /// The passwd-file's path.
    public let path: String

    /// An editor for the passwd-file at `path` (which need not exist yet).
    public init(path: String) {
        self.path = path
    }

    /// Adds `user` with `password` hashed in `scheme`.
    /// - Throws: ``PasswdFileEditorError`` `.userExists`, `.invalidUserName`, `.invalidPassword`, `.fileSystem`.
    public func add(
        user: String,
        password: String,
        scheme: PasswordScheme = .defaultForNewPasswords
    ) throws(PasswdFileEditorError) {
        try Self.checkUserName(user)
        let stored = try Self.hash(password, scheme: scheme)
        try modify { (lines: inout [[UInt8]]) throws(PasswdFileEditorError) in
            guard lines.firstIndex(where: { Self.userName(of: $0) == user }) == nil else {
                throw PasswdFileEditorError(code: .userExists, message: "user \(user) already exists")
            }
            lines.append(Array("\(user):\(stored.fieldValue)".utf8))
        }
    }

    /// Replaces the password of `user`, keeping the rest of the line.
    /// - Throws: ``PasswdFileEditorError`` `.noSuchUser`, `.invalidUserName`, `.invalidPassword`, `.fileSystem`.
    public func setPassword(
        user: String,
        password: String,
        scheme: PasswordScheme = .defaultForNewPasswords
    ) throws(PasswdFileEditorError) {
        try Self.checkUserName(user)
        let stored = try Self.hash(password, scheme: scheme)
        try modify { (lines: inout [[UInt8]]) throws(PasswdFileEditorError) in
            // The first line of a user is the one that counts (as in Dovecot).
            guard let index = lines.firstIndex(where: { Self.userName(of: $0) == user }) else {
                throw PasswdFileEditorError(code: .noSuchUser, message: "no user \(user)")
            }
            let line = lines[index]
            let separators = line.indices.filter { line[$0] == UInt8(ascii: ":") }
            var rest: ArraySlice<UInt8> = []
            if separators.count >= 2 {
                rest = line[separators[1]...]
            } else if line.last == 0x0D {
                rest = [0x0D]  // keep a CRLF line a CRLF line
            }
            lines[index] = Array("\(user):\(stored.fieldValue)".utf8) + rest
        }
    }

    /// Removes every line of `user`.
    /// - Throws: ``PasswdFileEditorError`` `.noSuchUser`, `.invalidUserName`, `.fileSystem`.
    public func remove(user: String) throws(PasswdFileEditorError) {
        try Self.checkUserName(user)
        try modify { (lines: inout [[UInt8]]) throws(PasswdFileEditorError) in
            let before = lines.count
            lines.removeAll { Self.userName(of: $0) == user }
            guard lines.count < before else {
                throw PasswdFileEditorError(code: .noSuchUser, message: "no user \(user)")
            }
        }
    }

    /// The user names in file order (a missing file has none).
    public func list() throws(PasswdFileEditorError) -> [String] {
        let lines = try readLines()
        var seen = Set<String>()
        return lines.compactMap { Self.userName(of: $0) }.filter { seen.insert($0).inserted }
    }

    // MARK: - Internals

    private static func checkUserName(_ user: String) throws(PasswdFileEditorError) {
        guard UserName.isValid(user) else {
            throw PasswdFileEditorError(
                code: .invalidUserName,
                message: "invalid user name: it must be 1 to 255 bytes without '/', '..', ':' or control characters"
            )
        }
    }

    private static func hash(_ password: String, scheme: PasswordScheme) throws(PasswdFileEditorError) -> StoredPassword
    {
        do {
            return try PasswordHasher.hash(password, scheme: scheme)
        } catch {
            throw PasswdFileEditorError(code: .invalidPassword, message: error.message)
        }
    }

    /// The valid user name a line defines, or nil for comments, blank and invalid lines.
    static func userName(of line: [UInt8]) -> String? {
        let text = String(decoding: line, as: UTF8.self)
        guard case .entry(let entry, _) = PasswdFile.parseLine(text[...], lineNumber: 0, defaultScheme: .crypt) else {
            return nil
        }
        return entry.user
    }

    /// The file's lines without their LF (a CR stays). A final LF does not make an empty last line.
    private func readLines() throws(PasswdFileEditorError) -> [[UInt8]] {
        let bytes: [UInt8]
        do {
            guard
                let (content, _) = try FileSystem.readFileIfExists(
                    FilePath(path),
                    limit: PasswdFileAccounts.maximumFileSize
                )
            else { return [] }
            bytes = content
        } catch {
            throw PasswdFileEditorError(code: .fileSystem, message: "\(error)")
        }
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        if bytes.last == 0x0A { lines.removeLast() }
        return lines
    }

    private func modify(_ change: (inout [[UInt8]]) throws(PasswdFileEditorError) -> Void) throws(PasswdFileEditorError)
    {
        let lock: File
        do {
            lock = try File.open(FilePath(path + ".lock"), .readWrite, options: [.create])
        } catch {
            throw PasswdFileEditorError(code: .fileSystem, message: "\(error)")
        }
        defer { lock.closeQuietly() }  // closing releases the flock
        do {
            try lock.lock(wait: true)
        } catch {
            throw PasswdFileEditorError(code: .fileSystem, message: "\(error)")
        }
        var lines = try readLines()
        try change(&lines)
        var output: [UInt8] = []
        for line in lines {
            output += line
            output.append(0x0A)
        }
        do {
            try FileSystem.replaceAtomically(FilePath(path), with: output)
        } catch {
            throw PasswdFileEditorError(code: .fileSystem, message: "\(error)")
        }
    }
}
