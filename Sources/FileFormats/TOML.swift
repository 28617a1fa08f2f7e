import Foundation

// A small TOML reader for PostOffice's configuration files.
//
// It reads the subset of TOML 1.0 that configuration needs: comments, `[table]` and
// `[[array-of-tables]]` headers, bare/quoted and dotted keys, basic and literal strings
// (single-line), integers (with `_` separators), floats, booleans and arrays (which may span
// lines). Anything else is reported with its line number rather than guessed at.

/// A TOML value.
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    public var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a number"
        case .boolean: "a boolean"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// A TOML table: keys in file order.
public struct TOMLTable: Equatable, Sendable {
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]

    public init() {}

    public subscript(key: String) -> TOMLValue? {
        get { values[key] }
        set {
            if values[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil { keys.removeAll { $0 == key } }
            values[key] = newValue
        }
    }
}

public struct TOMLError: Error, CustomStringConvertible, Equatable {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}

public enum TOML {
    /// Parses a whole document.
    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var parser = Parser(text: Array(text.utf8))
        return try parser.document()
    }
}

private struct Parser {
    let text: [UInt8]
    var index = 0
    var line = 1
    var root = TOMLTable()
    /// The path of the current table, and for `[[x]]` the index of its last element.
    var currentPath: [PathElement] = []
    var definedTables: Set<String> = []

    enum PathElement: Equatable {
        case key(String)
        case arrayElement(String)
    }

    init(text: [UInt8]) { self.text = text }

    mutating func document() throws(TOMLError) -> TOMLTable {
        while true {
            skipWhitespaceAndComments(newlines: true)
            guard index < text.count else { return root }
            if text[index] == UInt8(ascii: "[") {
                try header()
            } else {
                try keyValue()
            }
            try endOfLine()
        }
    }

    // MARK: - Lines

    mutating func header() throws(TOMLError) {
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        skipSpaces()
        let path = try key()
        skipSpaces()
        guard expect("]") else { throw error("expected ']' to close the table header") }
        if isArray, !expect("]") { throw error("expected ']]' to close the array-of-tables header") }
        let name = path.joined(separator: ".")
        if isArray {
            try appendArrayTable(path: path)
            // safe: key() never returns []
            currentPath = path.dropLast().map { .key($0) } + [.arrayElement(path.last!)]
        } else {
            guard definedTables.insert(name).inserted else { throw error("table [\(name)] is defined twice") }
            try ensureTable(path: path.map { .key($0) })
            currentPath = path.map { .key($0) }
        }
    }

    mutating func keyValue() throws(TOMLError) {
        let path = try key()
        skipSpaces()
        guard expect("=") else { throw error("expected '=' after the key '\(path.joined(separator: "."))'") }
        skipSpaces()
        let value = try value()
        let target = currentPath + path.dropLast().map { .key($0) }
        try ensureTable(path: target)
        let last = path.last!  // safe: key() never returns []
        var failure: TOMLError?
        let duplicate = error("the key '\(last)' is set twice")
        modifyTable(at: target) { table in
            if table[last] != nil {
                failure = duplicate
            } else {
                table[last] = value
            }
        }
        if let failure { throw failure }
    }

    mutating func endOfLine() throws(TOMLError) {
        skipSpaces()
        if peek() == UInt8(ascii: "#") { skipComment() }
        guard index < text.count else { return }
        if text[index] == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { index += 1 }
        guard text[index] == UInt8(ascii: "\n") else {
            throw error("unexpected '\(String(decoding: [text[index]], as: UTF8.self))' after a value")
        }
    }

    // MARK: - Keys

    mutating func key() throws(TOMLError) -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard let c = peek() else { throw error("expected a key") }
            if c == UInt8(ascii: "\"") {
                parts.append(try basicString())
            } else if c == UInt8(ascii: "'") {
                parts.append(try literalString())
            } else {
                let start = index
                while let c = peek(), isBareKeyByte(c) { index += 1 }
                guard index > start else { throw error("expected a key") }
                parts.append(String(decoding: text[start..<index], as: UTF8.self))
            }
            skipSpaces()
            guard peek() == UInt8(ascii: ".") else { return parts }
            index += 1
        }
    }

    func isBareKeyByte(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    // MARK: - Values

    mutating func value() throws(TOMLError) -> TOMLValue {
        guard let c = peek() else { throw error("expected a value") }
        switch c {
        case UInt8(ascii: "\""):
            if peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") {
                throw error("multi-line strings are not supported")
            }
            return .string(try basicString())
        case UInt8(ascii: "'"):
            return .string(try literalString())
        case UInt8(ascii: "["):
            return try array()
        case UInt8(ascii: "{"):
            return try inlineTable()
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            if matchWord("true") { return .boolean(true) }
            if matchWord("false") { return .boolean(false) }
            throw error("expected a value (strings need quotes)")
        default:
            return try number()
        }
    }

    mutating func array() throws(TOMLError) -> TOMLValue {
        index += 1
        var elements: [TOMLValue] = []
        while true {
            skipWhitespaceAndComments(newlines: true)
            if expect("]") { return .array(elements) }
            elements.append(try value())
            skipWhitespaceAndComments(newlines: true)
            if expect(",") { continue }
            guard expect("]") else { throw error("expected ',' or ']' in an array") }
            return .array(elements)
        }
    }

    mutating func inlineTable() throws(TOMLError) -> TOMLValue {
        index += 1
        var table = TOMLTable()
        skipSpaces()
        if expect("}") { return .table(table) }
        while true {
            skipSpaces()
            let path = try key()
            guard path.count == 1 else { throw error("dotted keys in inline tables are not supported") }
            skipSpaces()
            guard expect("=") else { throw error("expected '=' in an inline table") }
            skipSpaces()
            guard table[path[0]] == nil else { throw error("the key '\(path[0])' is set twice") }
            table[path[0]] = try value()
            skipSpaces()
            if expect(",") { continue }
            guard expect("}") else { throw error("expected ',' or '}' in an inline table") }
            return .table(table)
        }
    }

    mutating func number() throws(TOMLError) -> TOMLValue {
        let start = index
        while let c = peek(), !isValueTerminator(c) { index += 1 }
        let raw = String(decoding: text[start..<index], as: UTF8.self)
        let cleaned = raw.replacingOccurrences(of: "_", with: "")
        guard !cleaned.isEmpty else { throw error("expected a value") }
        if let int = Int(cleaned) { return .integer(int) }
        if cleaned.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let double = Double(cleaned) {
            return .float(double)
        }
        throw error("'\(raw)' is not a value (strings need quotes)")
    }

    func isValueTerminator(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r")
            || c == UInt8(ascii: ",") || c == UInt8(ascii: "]") || c == UInt8(ascii: "}") || c == UInt8(ascii: "#")
    }

    mutating func basicString() throws(TOMLError) -> String {
        index += 1
        var bytes: [UInt8] = []
        while true {
            guard let c = peek(), c != UInt8(ascii: "\n") else { throw error("unterminated string") }
            index += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(decoding: bytes, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek() else { throw error("unterminated string") }
                index += 1
                switch e {
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let count = e == UInt8(ascii: "u") ? 4 : 8
                    guard index + count <= text.count,
                        let scalarValue = UInt32(
                            String(decoding: text[index..<index + count], as: UTF8.self),
                            radix: 16
                        ),
                        let scalar = Unicode.Scalar(scalarValue)
                    else { throw error("invalid \\u escape") }
                    index += count
                    bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw error("invalid escape '\\\(String(decoding: [e], as: UTF8.self))'")
                }
            default:
                bytes.append(c)
            }
        }
    }

    mutating func literalString() throws(TOMLError) -> String {
        index += 1
        let start = index
        while let c = peek(), c != UInt8(ascii: "'") {
            guard c != UInt8(ascii: "\n") else { throw error("unterminated string") }
            index += 1
        }
        guard peek() != nil else { throw error("unterminated string") }
        let s = String(decoding: text[start..<index], as: UTF8.self)
        index += 1
        return s
    }

    // MARK: - Tables

    mutating func ensureTable(path: [PathElement]) throws(TOMLError) {
        var failure: TOMLError?
        var table = root
        Self.ensure(&table, path[...], failure: &failure, line: line)
        if let failure { throw failure }
        root = table
    }

    static func ensure(_ table: inout TOMLTable, _ path: ArraySlice<PathElement>, failure: inout TOMLError?, line: Int)
    {
        guard let first = path.first else { return }
        switch first {
        case .key(let name):
            var child: TOMLTable
            switch table[name] {
            case nil: child = TOMLTable()
            case .table(let t): child = t
            default:
                failure = TOMLError(line: line, message: "'\(name)' is already a value, not a table")
                return
            }
            ensure(&child, path.dropFirst(), failure: &failure, line: line)
            table[name] = .table(child)
        case .arrayElement(let name):
            guard case .array(var elements) = table[name], case .table(var last) = elements.last else {
                failure = TOMLError(line: line, message: "'\(name)' is not an array of tables")
                return
            }
            ensure(&last, path.dropFirst(), failure: &failure, line: line)
            elements[elements.count - 1] = .table(last)
            table[name] = .array(elements)
        }
    }

    mutating func appendArrayTable(path: [String]) throws(TOMLError) {
        let parent = path.dropLast().map { PathElement.key($0) }
        try ensureTable(path: parent)
        let name = path.last!  // safe: key() never returns []
        var failure: TOMLError?
        let line = self.line
        modifyTable(at: parent) { table in
            switch table[name] {
            case nil: table[name] = .array([.table(TOMLTable())])
            case .array(var elements) where elements.allSatisfy({ if case .table = $0 { true } else { false } }):
                elements.append(.table(TOMLTable()))
                table[name] = .array(elements)
            default: failure = TOMLError(line: line, message: "'\(name)' is already a value, not an array of tables")
            }
        }
        if let failure { throw failure }
    }

    mutating func modifyTable(at path: [PathElement], _ body: (inout TOMLTable) -> Void) {
        Self.modify(&root, path[...], body)
    }

    static func modify(_ table: inout TOMLTable, _ path: ArraySlice<PathElement>, _ body: (inout TOMLTable) -> Void) {
        guard let first = path.first else { return body(&table) }
        switch first {
        case .key(let name):
            guard case .table(var child) = table[name] else { return }
            modify(&child, path.dropFirst(), body)
            table[name] = .table(child)
        case .arrayElement(let name):
            guard case .array(var elements) = table[name], case .table(var last) = elements.last else { return }
            modify(&last, path.dropFirst(), body)
            elements[elements.count - 1] = .table(last)
            table[name] = .array(elements)
        }
    }

    // MARK: - Bytes

    func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < text.count ? text[index + offset] : nil
    }

    mutating func expect(_ s: Unicode.Scalar) -> Bool {
        guard peek() == UInt8(ascii: s) else { return false }
        index += 1
        return true
    }

    mutating func matchWord(_ word: String) -> Bool {
        let bytes = Array(word.utf8)
        guard index + bytes.count <= text.count, Array(text[index..<index + bytes.count]) == bytes else { return false }
        if let next = peek(bytes.count), !isValueTerminator(next) { return false }
        index += bytes.count
        return true
    }

    mutating func skipSpaces() {
        while let c = peek(), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { index += 1 }
    }

    mutating func skipComment() {
        while let c = peek(), c != UInt8(ascii: "\n") { index += 1 }
    }

    mutating func skipWhitespaceAndComments(newlines: Bool) {
        while let c = peek() {
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") {
                index += 1
            } else if c == UInt8(ascii: "\n") && newlines {
                index += 1
                line += 1
            } else if c == UInt8(ascii: "#") {
                skipComment()
            } else {
                return
            }
        }
    }

    func error(_ message: String) -> TOMLError { TOMLError(line: line, message: message) }
}
