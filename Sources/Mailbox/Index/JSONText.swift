import Foundation

/// Minimal JSON helpers for the index's string lists and the CLI's output.
public enum JSONText {
    /// A JSON string literal (RFC 8259 §7), non-ASCII kept as UTF-8.
    public static func quoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output + "\""
    }

    static func decodeStringArray(_ text: String) -> [String]? {
        if text == "[]" { return [] }
        return try? JSONDecoder().decode([String].self, from: Data(text.utf8))
    }
}
