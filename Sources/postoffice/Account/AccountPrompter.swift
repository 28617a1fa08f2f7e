// Questions `postoffice account add` asks the person at the terminal. Prompts go to standard
// error; answers are read from standard input (off Swift's shared threads: reading waits on a
// person). With --yes nothing is asked: the caller never gets here.

import FileIO
import Foundation

struct AccountPrompter: Sendable {
    /// A line of input, or nil at end of input.
    private static func readAnswer(_ prompt: String) async throws -> String? {
        FileHandle.standardError.write(Data(prompt.utf8))
        return try await BlockingIO.run { Swift.readLine(strippingNewline: true) }
    }

    private static func noAnswer() -> ConfigError {
        ConfigError("no answer on standard input; for scripts, give the choices as flags and --yes")
    }

    /// A free-text answer; the default when the answer is empty.
    func ask(_ question: String, default defaultValue: String? = nil) async throws -> String {
        let suffix = defaultValue.map { " [\($0)]" } ?? ""
        while true {
            guard let answer = try await Self.readAnswer("\(question)\(suffix): ") else { throw Self.noAnswer() }
            let trimmed = answer.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty, let defaultValue { return defaultValue }
            if !trimmed.isEmpty { return trimmed }
        }
    }

    /// Yes or no; the default on an empty answer.
    func confirm(_ question: String, default defaultValue: Bool) async throws -> Bool {
        let suffix = defaultValue ? " [Y/n]" : " [y/N]"
        while true {
            guard let answer = try await Self.readAnswer("\(question)\(suffix): ") else { throw Self.noAnswer() }
            switch answer.trimmingCharacters(in: .whitespaces).lowercased() {
            case "": return defaultValue
            case "y", "yes": return true
            case "n", "no": return false
            default: continue
            }
        }
    }

    /// One of `options` by number (1-based on screen); returns its index.
    func choose(_ question: String, options: [String], default defaultIndex: Int = 0) async throws -> Int {
        var text = question + "\n"
        for (index, option) in options.enumerated() { text += "  \(index + 1)) \(option)\n" }
        FileHandle.standardError.write(Data(text.utf8))
        while true {
            guard let answer = try await Self.readAnswer("Choice [\(defaultIndex + 1)]: ") else {
                throw Self.noAnswer()
            }
            let trimmed = answer.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return defaultIndex }
            if let number = Int(trimmed), (1...options.count).contains(number) { return number - 1 }
        }
    }

    /// A secret: without echo on a terminal; a plain line when standard input is a pipe.
    func secret(_ prompt: String) async throws -> String {
        if Console.standardInputIsTerminal {
            return try await BlockingIO.run { try Console.readPassword(prompt: prompt) }
        }
        guard let line = try await Self.readAnswer(prompt), !line.isEmpty else { throw Self.noAnswer() }
        return line
    }
}
