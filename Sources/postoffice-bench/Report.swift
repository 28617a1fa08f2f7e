// Results as JSON lines (for Benchmarks/compare.py) and as a human line on standard output.

import Foundation

/// A value in a result record.
enum ReportValue: Hashable, Sendable {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)

    var json: String {
        switch self {
        case .int(let value):
            return String(value)
        case .double(let value):
            guard value.isFinite else { return "null" }
            return String(format: "%.6g", value)
        case .string(let value):
            return Self.quoted(value)
        case .bool(let value):
            return value ? "true" : "false"
        }
    }

    var human: String {
        switch self {
        case .int(let value):
            return String(value)
        case .double(let value):
            return value.magnitude >= 100 ? String(format: "%.0f", value) : String(format: "%.3g", value)
        case .string(let value):
            return value
        case .bool(let value):
            return value ? "yes" : "no"
        }
    }

    /// A JSON string literal (RFC 8259 §7).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// One measured result: the workload, the server's label, then named values in order.
struct ResultRecord: Sendable {
    var workload: String
    var label: String
    var fields: [(name: String, value: ReportValue)] = []

    mutating func add(_ name: String, _ value: ReportValue) {
        self.fields.append((name, value))
    }

    mutating func add(_ name: String, _ value: Int) { self.add(name, .int(value)) }
    mutating func add(_ name: String, _ value: Double) { self.add(name, .double(value)) }
    mutating func add(_ name: String, _ value: String) { self.add(name, .string(value)) }

    /// One JSON object on one line, keys in order.
    var jsonLine: String {
        let all = [("workload", ReportValue.string(self.workload)), ("label", .string(self.label))] + self.fields
        return "{" + all.map { "\(ReportValue.quoted($0.0)):\($0.1.json)" }.joined(separator: ",") + "}"
    }

    var humanLine: String {
        let values = self.fields.map { "\($0.name)=\($0.value.human)" }.joined(separator: "  ")
        return "\(self.workload.padding(toLength: 12, withPad: " ", startingAt: 0)) "
            + "\(self.label.padding(toLength: 12, withPad: " ", startingAt: 0)) \(values)"
    }
}

/// Where results go: a human line on standard output, and a JSON line appended to a file if
/// one was named ("-": standard output instead of the human line).
struct Reporter: Sendable {
    var jsonPath: String?

    func emit(_ record: ResultRecord) throws {
        if self.jsonPath == "-" {
            Self.write(record.jsonLine + "\n")
            return
        }
        Self.write(record.humanLine + "\n")
        guard let path = self.jsonPath else { return }
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((record.jsonLine + "\n").utf8))
    }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func note(_ text: String) {
        FileHandle.standardError.write(Data(("postoffice-bench: " + text + "\n").utf8))
    }
}
