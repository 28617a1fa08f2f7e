// Where a password comes from: a file, a command (password manager) or an environment variable.
import FileIO
import Foundation
import SystemPackage

/// The source of an account's password or token. Never a literal on the command line.
public enum PasswordSource: Hashable, Sendable {
    /// The first line of this file (the file should be readable by the user only).
    case file(String)
    /// The first line of the standard output of `/bin/sh -c COMMAND` (e.g. `pass show mail`).
    case command(String)
    /// The value of this environment variable.
    case environment(String)
    /// No password (accounts whose server needs none, tests).
    case none

    /// Reads the secret. Throws `FetchFailure` of kind `.authentication`; the message never
    /// contains the secret.
    public func resolve(environment: [String: String]? = nil) throws -> String {
        let environment = environment ?? ProcessInfo.processInfo.environment
        switch self {
        case .none:
            return ""
        case .file(let path):
            guard let data = try? FileSystem.readFile(FilePath(path)) else {
                throw FetchFailure(kind: .authentication, message: "cannot read the password file \(path)")
            }
            return Self.firstLine(data)
        case .environment(let name):
            guard let value = environment[name] else {
                throw FetchFailure(kind: .authentication, message: "the environment variable \(name) is not set")
            }
            return value
        case .command(let command):
            let result: ChildProcess.Result
            do {
                result = try ChildProcess.shell(command).run(input: .nullDevice, output: .capture)
            } catch {
                throw FetchFailure(kind: .authentication, message: "cannot run the password command: \(error)")
            }
            guard result.termination.succeeded else {
                throw FetchFailure(kind: .authentication, message: "the password command \(result.termination)")
            }
            return Self.firstLine(result.output)
        }
    }

    private static func firstLine(_ data: some Collection<UInt8>) -> String {
        // Bytes, not Characters: "\r\n" is one Character in Swift.
        var line = Array(data.prefix { $0 != 10 })
        if line.last == 13 { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }
}
