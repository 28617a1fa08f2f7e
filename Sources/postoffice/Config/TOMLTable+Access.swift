import Accounts
import FileFormats
import Foundation

/// Typed access to configuration keys, with errors that name the key and the file.
struct ConfigSection {
    var table: TOMLTable
    /// `[server]`, `[[account]] #2`, … for error messages.
    var name: String
    /// Keys read so far, to report unknown (misspelt) keys.
    private(set) var consumed: Set<String> = []

    init(table: TOMLTable, name: String) {
        self.table = table
        self.name = name
    }

    mutating func string(_ key: String) throws -> String? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .string(let s): return s
        case let other?: throw ConfigError("\(name).\(key) must be a string, not \(other.typeName)")
        }
    }

    mutating func int(_ key: String) throws -> Int? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .integer(let i): return i
        case let other?: throw ConfigError("\(name).\(key) must be an integer, not \(other.typeName)")
        }
    }

    mutating func bool(_ key: String) throws -> Bool? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .boolean(let b): return b
        case let other?: throw ConfigError("\(name).\(key) must be true or false, not \(other.typeName)")
        }
    }

    /// Seconds: an integer, a float, or a string like "90s", "5m", "2h", "1d".
    mutating func seconds(_ key: String) throws -> Double? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .integer(let i): return Double(i)
        case .float(let d): return d
        case .string(let s):
            guard let value = parseDuration(s) else {
                throw ConfigError("\(name).\(key): '\(s)' is not a duration (try 30, \"90s\", \"5m\", \"1h\")")
            }
            return value
        case let other?: throw ConfigError("\(name).\(key) must be a duration, not \(other.typeName)")
        }
    }

    /// A retention period: a number of days, or the string "NEVER" (RFC 2449 §6.7).
    mutating func expiry(_ key: String) throws -> Expiry? {
        consumed.insert(key)
        let problem = ConfigError("\(name).\(key) must be a number of days up to \(Expiry.maximumDays) or \"NEVER\"")
        switch table[key] {
        case nil: return nil
        case .integer(let days):
            guard (0...Expiry.maximumDays).contains(days) else { throw problem }
            return .days(days)
        case .string(let text):
            guard let expiry = Expiry(parsing: text) else { throw problem }
            return expiry
        case .some: throw problem
        }
    }

    /// A string or an array of strings.
    mutating func strings(_ key: String) throws -> [String]? {
        consumed.insert(key)
        switch table[key] {
        case nil: return nil
        case .string(let s): return [s]
        case .array(let values):
            return try values.map { value in
                guard case .string(let s) = value else {
                    throw ConfigError("\(name).\(key) must be a list of strings")
                }
                return s
            }
        case let other?: throw ConfigError("\(name).\(key) must be a list of strings, not \(other.typeName)")
        }
    }

    /// Throws for keys nobody asked for: a misspelt key must not be silently ignored.
    func rejectUnknownKeys() throws {
        let unknown = table.keys.filter { !consumed.contains($0) }
        guard unknown.isEmpty else {
            throw ConfigError(
                "unknown key\(unknown.count > 1 ? "s" : "") in \(name): \(unknown.joined(separator: ", "))"
            )
        }
    }
}

/// "90", "90s", "5m", "2h", "1d", "1.5m" → seconds.
func parseDuration(_ text: String) -> Double? {
    let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
    guard let last = trimmed.last else { return nil }
    let multipliers: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
    if let multiplier = multipliers[last] {
        guard let value = Double(trimmed.dropLast()), value >= 0, value.isFinite else { return nil }
        return value * multiplier
    }
    guard let value = Double(trimmed), value >= 0, value.isFinite else { return nil }
    return value
}

struct ConfigError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Reads and parses a TOML file, prefixing errors with its path.
func loadTOML(path: String) throws -> TOMLTable {
    let text: String
    do {
        text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
        throw ConfigError("cannot read the configuration file \(path): \(error.localizedDescription)")
    }
    do {
        return try TOML.parse(text)
    } catch {
        throw ConfigError("\(path): \(error)")
    }
}
