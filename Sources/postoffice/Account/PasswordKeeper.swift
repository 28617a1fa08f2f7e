// Where `account add` keeps a password the user typed: a file only the user can read, the
// desktop keyring (secret-tool), pass, or a command the user already has. fetch.toml only ever
// names the place (DESIGN.md: no password in the configuration).

import Fetch
import FileIO
import Foundation
import SystemPackage

enum PasswordKeeper {
    /// The ways offered, in the order offered.
    enum Place: Sendable, Equatable {
        /// A file of mode 0600 at this path.
        case file(String)
        /// The Secret Service (GNOME Keyring, KWallet) through `secret-tool`.
        case secretTool
        /// `pass`, the standard Unix password manager.
        case pass
        /// A command the user gives that prints the password.
        case command(String)
    }

    /// `$XDG_CONFIG_HOME/postoffice/passwords/NAME`.
    static func defaultFile(account name: String) -> String {
        XDG.configHome + "/postoffice/passwords/" + XDG.fileNameComponent(name)
    }

    /// Whether `program` is on PATH.
    static func installed(_ program: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(program)") }
    }

    /// Stores `password` at `place` and returns how fetch reads it back. A command's output is
    /// checked against the password, so a wrong command is found now, not at the first fetch.
    static func keep(_ password: String, at place: Place, account name: String) async throws
        -> FetchAccountSettings.PasswordSource
    {
        let source: FetchAccountSettings.PasswordSource
        switch place {
        case .file(let path):
            try await BlockingIO.run { try writePrivateFile(path, contents: password + "\n") }
            return .file(path)
        case .secretTool:
            let attributes = ["service", "postoffice", "account", name]
            try await run(
                ["secret-tool", "store", "--label=PostOffice \(name)"] + attributes,
                input: password
            )
            source = .command((["secret-tool", "lookup"] + attributes).map(shellQuoted).joined(separator: " "))
        case .pass:
            let entry = "postoffice/" + XDG.fileNameComponent(name)
            try await run(["pass", "insert", "--multiline", "--force", entry], input: password + "\n")
            source = .command("pass show " + shellQuoted(entry))
        case .command(let command):
            source = .command(command)
        }
        guard case .command(let command) = source else { return source }
        let readBack = try await BlockingIO.run { try Fetch.PasswordSource.command(command).resolve() }
        guard readBack == password else {
            throw ConfigError("`\(command)` does not print the password you typed; the account was not saved")
        }
        return source
    }

    /// Runs `arguments` with `input` on standard input; throws when it fails.
    private static func run(_ arguments: [String], input: String) async throws {
        try await BlockingIO.run {
            let child = ChildProcess(executable: "/usr/bin/env", arguments: ["env"] + arguments)
            let result = try child.run(input: .bytes(Array(input.utf8)), output: .discard)
            guard result.termination.succeeded else {
                throw ConfigError("\(arguments[0]) could not store the password: it \(result.termination)")
            }
        }
    }

    /// Writes a secret into a file created with mode 0600 (never readable by others, not even
    /// for a moment); an existing file is replaced. Its directory is created private.
    static func writePrivateFile(_ path: String, contents: String) throws {
        let filePath = FilePath(path)
        do throws(FileIOError) {
            try FileSystem.createDirectories(FileSystem.parent(of: filePath))
            _ = try FileSystem.remove(filePath)
            // Created exclusively (a symbolic link planted there is refused), written, fsynced.
            try FileSystem.writeNewFile(filePath, Array(contents.utf8))
        } catch {
            throw ConfigError("cannot create \(path): \(error.errno)")
        }
    }
}

/// `text` as one word for `/bin/sh`: in single quotes, a quote as `'\''`.
func shellQuoted(_ text: String) -> String {
    let safe = text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "@%+=:,./-_".contains($0)) }
    if safe && !text.isEmpty { return text }
    return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
