import FileIO
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the output can do: width, colour, paging. Colour and paging only on a terminal,
/// colour not when NO_COLOR is set (no-color.org) or TERM is dumb.
struct Terminal {
    let isTTY: Bool
    let width: Int?
    let height: Int?
    let useColor: Bool

    static func standardOutput() -> Terminal {
        let isTTY = isatty(STDOUT_FILENO) == 1
        var size = winsize()
        var width: Int?
        var height: Int?
        if isTTY, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            width = Int(size.ws_col)
            height = Int(size.ws_row)
        } else if isTTY, let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 {
            width = columns
        }
        let environment = ProcessInfo.processInfo.environment
        let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
        let dumb = environment["TERM"] == "dumb"
        return Terminal(isTTY: isTTY, width: width, height: height, useColor: isTTY && !noColor && !dumb)
    }

    enum Style: String {
        case bold = "1"
        case dim = "2"
        case yellow = "33"
        case cyan = "36"
        case red = "31"
        case green = "32"
    }

    func styled(_ text: String, _ style: Style) -> String {
        useColor ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }

    /// Writes `text`; on a terminal, through `$PAGER` (else `less -R`) when it is taller
    /// than the screen.
    func emit(_ text: String) {
        let lines = text.reduce(0) { $1 == "\n" ? $0 + 1 : $0 }
        if isTTY, let height, lines >= height, page(text) { return }
        Output.write(text)
    }

    private func page(_ text: String) -> Bool {
        let environment = ProcessInfo.processInfo.environment
        let pager = environment["PAGER"].flatMap { $0.isEmpty ? nil : $0 } ?? "less -R"
        // A pager that quits early stops reading; ChildProcess survives the broken pipe.
        do {
            _ = try ChildProcess.shell(pager).run(input: .bytes(Array(text.utf8)), output: .inherit)
        } catch {
            return false
        }
        return true
    }
}

enum Output {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func write(bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// Terminal cell widths, enough for aligned columns: combining marks take none, East Asian
/// wide characters and emoji two.
enum DisplayWidth {
    static func of(_ character: Character) -> Int {
        guard let scalar = character.unicodeScalars.first else { return 0 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control: return 0
        default: break
        }
        let value = scalar.value
        let wide =
            (0x1100...0x115F).contains(value) || (0x2E80...0xA4CF).contains(value) || (0xAC00...0xD7A3).contains(value)
            || (0xF900...0xFAFF).contains(value) || (0xFE30...0xFE4F).contains(value)
            || (0xFF00...0xFF60).contains(value)
            || (0xFFE0...0xFFE6).contains(value) || (0x1F300...0x1F64F).contains(value)
            || (0x1F900...0x1F9FF).contains(value) || (0x20000...0x3FFFD).contains(value)
        return wide ? 2 : 1
    }

    static func of(_ text: String) -> Int { text.reduce(0) { $0 + of($1) } }

    /// Cut to at most `width` cells (with `…` when cut), then padded with spaces to exactly
    /// `width` unless `pad` is false.
    static func fit(_ text: String, _ width: Int, pad: Bool = true) -> String {
        guard width > 0 else { return "" }
        var result = ""
        var used = 0
        let total = of(text)
        let limit = total > width ? width - 1 : width
        for character in text {
            let cells = of(character)
            if used + cells > limit { break }
            result.append(character)
            used += cells
        }
        if total > width {
            result.append("…")
            used += 1
        }
        if pad, used < width { result += String(repeating: " ", count: width - used) }
        return result
    }
}

/// Text from a message made safe for a terminal: control characters (escape sequences
/// included) shown as `?`, tabs and newlines kept when allowed.
enum SafeText {
    static func line(_ text: String) -> String { clean(text, keepNewlines: false) }
    static func block(_ text: String) -> String { clean(text, keepNewlines: true) }

    private static func clean(_ text: String, keepNewlines: Bool) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A where keepNewlines, 0x09 where keepNewlines: scalars.append(scalar)
            case 0x0A, 0x09, 0x0D: scalars.append(" ")
            case 0x00...0x1F, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: scalars.append("?")
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}
