import FileIO
import Foundation
import Glibc
import Logging

/// One line per event on standard error: `2026-11-22T04:00:00Z info pop3: login ok user=alice peer=…`.
///
/// The message comes first and metadata after it as `key=value`, so lines stay greppable
/// (fail2ban matches `login failed .* peer=<HOST>`). Secrets never reach here: the modules
/// log redacted forms only (DESIGN.md invariant 6).
struct LineLogHandler: LogHandler {
    var label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let message = "\(event.message)"
        var line = "\(Self.timestamp()) \(event.level) \(label): \(message)"
        // A key the message already spells out (`peer=` in login lines) is not repeated.
        for key in merged.keys.sorted() where !message.contains("\(key)=") {
            line += " \(key)=\(merged[key]!)"  // safe: key comes from merged.keys
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    private static func timestamp() -> String {
        // FileIO's clock: a `timespec` here is attributed to CoreFoundation in some builds
        // (release), which this file does not import.
        let now = FileTime.now()
        var seconds = time_t(now.seconds)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            parts.tm_year + 1900,
            parts.tm_mon + 1,
            parts.tm_mday,
            parts.tm_hour,
            parts.tm_min,
            parts.tm_sec,
            now.nanoseconds / 1_000_000
        )
    }
}

enum LoggingSetup {
    /// Bootstraps swift-log once per process.
    static func bootstrap(level: String?) throws -> Logger.Level {
        let resolved: Logger.Level
        if let level {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigError("unknown log level '\(level)' (trace, debug, info, notice, warning, error, critical)")
            }
            resolved = parsed
        } else {
            resolved = .info
        }
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: resolved) }
        return resolved
    }
}
