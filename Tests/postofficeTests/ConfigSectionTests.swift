import FileFormats
import Testing

@testable import postoffice

/// The configuration layer over the TOML reader: durations and unknown keys.
@Suite("Configuration sections")
struct ConfigSectionTests {
    @Test("durations", arguments: [("30", 30.0), ("90s", 90), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1.5m", 90)])
    func durations(text: String, seconds: Double) {
        #expect(parseDuration(text) == seconds)
    }

    @Test("bad durations", arguments: ["", "m", "-5s", "5x", "abc"])
    func badDurations(text: String) {
        #expect(parseDuration(text) == nil)
    }

    @Test("unknown keys are reported, not ignored")
    func unknownKeys() throws {
        let doc = try TOML.parse("listen = \"a\"\nlsten = \"b\"")
        var section = ConfigSection(table: doc, name: "[server]")
        _ = try section.strings("listen")
        #expect(throws: ConfigError.self) { try section.rejectUnknownKeys() }
    }
}
