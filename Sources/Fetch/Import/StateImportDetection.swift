// Telling fetchmail, getmail, mpop and Thunderbird state files apart by their contents.
import FileFormats
import FileIO
import Foundation
import SystemPackage

extension StateImport {
    /// Parses `--import-state`'s argument: `KIND:FILE` names the program; a bare `FILE` is read
    /// and recognised by its contents (`Format.recognise(_:)`). Blocking (reads the file).
    ///
    /// Throws a `.configuration` `FetchFailure` when the file cannot be read, or when its contents
    /// fit no format or several (then the message names them and asks for `KIND:FILE`).
    public static func resolve(argument: String) throws -> StateImport {
        if let named = StateImport(argument: argument) { return named }
        guard let data = try? FileSystem.readFile(FilePath(argument)) else {
            var message = "--import-state: cannot read \(argument)"
            if argument.contains(":") {
                message += " (to name the program that wrote it, use KIND:FILE with KIND one of \(Format.kindList))"
            }
            throw FetchFailure(kind: .configuration, message: message)
        }
        let candidates = Format.recognise(data)
        guard candidates.count == 1, let format = candidates.first else {
            let what =
                candidates.isEmpty
                ? "does not look like the state of \(Format.kindList(joinedBy: "or"))"
                : "could have been written by \(candidates.map(\.rawValue).joined(separator: " or "))"
            throw FetchFailure(
                kind: .configuration,
                message: "--import-state: \(argument) \(what); name the program with KIND:\(argument) "
                    + "(KIND one of \(Format.kindList))"
            )
        }
        return StateImport(format: format, path: argument)
    }
}

extension StateImport.Format {
    /// `fetchmail, getmail, mpop, thunderbird`.
    static var kindList: String { kindList(joinedBy: "") }

    static func kindList(joinedBy conjunction: String) -> String {
        let names = allCases.map(\.rawValue)
        guard !conjunction.isEmpty, let last = names.last else { return names.joined(separator: ", ") }
        return names.dropLast().joined(separator: ", ") + " \(conjunction) " + last
    }
}
