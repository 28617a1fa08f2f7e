import Foundation
import Glibc

enum Console {
    static var standardInputIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }
    static var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Reads a password from the terminal without echo.
    static func readPassword(prompt: String) throws -> String {
        guard standardInputIsTerminal else {
            throw ConfigError("standard input is not a terminal: use --password-stdin to pipe the password")
        }
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = Swift.readLine(strippingNewline: true) else {
            throw ConfigError("no password was entered")
        }
        return line
    }

    /// The first line of standard input (for --password-stdin).
    static func readPasswordFromStandardInput() throws -> String {
        guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else {
            throw ConfigError("no password on standard input")
        }
        return line
    }

    /// A line on standard output, unbuffered (scripts wait for the "listening on" lines).
    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("postoffice: \(message)\n".utf8))
    }
}

func say(_ line: String) { Console.say(line) }
