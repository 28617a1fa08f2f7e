import SystemPackage

/// Digests of messages the index sees for the first time, recorded in their manifest so that
/// `mail verify` protects every message, whoever stored it (mpop, fetchmail, a mail reader):
/// a later change to the file — bit rot, tampering — no longer matches.
///
/// A name the manifest already has keeps its recorded digest: that one is the older
/// observation, and a file that differs from it is exactly what verify must report.
struct FirstSightDigests {
    /// Manifest path -> (unique name, SHA-256 hex) in the order seen.
    private var pending: [FilePath: [(name: String, sha256: String)]] = [:]

    mutating func add(manifest: FilePath, name: String, sha256: String) {
        pending[manifest, default: []].append((name, sha256))
    }

    /// Appends the digests of names each manifest lacks (one write and fsync per manifest);
    /// returns how many were recorded.
    func record() throws -> Int {
        var recorded = 0
        for manifestPath in pending.keys.sorted(by: { $0.string < $1.string }) {
            let known = try Manifest.read(manifestPath)
            var seen = Set<String>()
            var lines: [(digest: String, uniqueName: String)] = []
            for entry in pending[manifestPath] ?? [] where known[entry.name] == nil {
                guard seen.insert(entry.name).inserted else { continue }
                lines.append((entry.sha256, entry.name))
            }
            try Manifest.append(lines, to: manifestPath)
            recorded += lines.count
        }
        return recorded
    }
}
