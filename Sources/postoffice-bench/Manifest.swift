// The corpus manifest written by Benchmarks/corpus.py: for each account, the messages its maildrop
// holds, with their CRLF size and the SHA-256 of their CRLF form.

import Crypto
import Foundation

/// One line of the manifest: `account<TAB>size<TAB>sha256<TAB>path`, the path relative to the
/// manifest's directory. Lines starting with `#` are comments.
struct ManifestEntry: Hashable, Sendable {
    var account: String
    /// Octets with CRLF line ends (what LIST reports).
    var size: Int
    /// SHA-256 of the CRLF form, lowercase hex.
    var digest: String
    var path: String
}

struct Manifest: Sendable {
    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    var entries: [ManifestEntry]
    /// The directory paths in entries are relative to.
    var directory: String

    static func parse(_ text: String, directory: String) throws(Invalid) -> Manifest {
        var entries: [ManifestEntry] = []
        for (number, line) in text.split(whereSeparator: \.isNewline).enumerated() where !line.hasPrefix("#") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 4, let size = Int(fields[1]), size >= 0, fields[2].count == 64 else {
                throw Invalid(description: "manifest line \(number + 1): expected account, size, sha256, path")
            }
            entries.append(
                ManifestEntry(
                    account: String(fields[0]),
                    size: size,
                    digest: String(fields[2]),
                    path: String(fields[3])
                )
            )
        }
        return Manifest(entries: entries, directory: directory)
    }

    static func load(path: String) throws -> Manifest {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try Self.parse(text, directory: (path as NSString).deletingLastPathComponent)
    }

    /// The expected messages of `accounts`, read from the corpus and checked against the
    /// manifest's sizes and digests (each distinct message is read once).
    func expectedMessages(for accounts: some Sequence<String>) throws -> [String: ExpectedMaildrop] {
        let wanted = Set(accounts)
        var byDigest: [String: WireMessage] = [:]
        var result: [String: ExpectedMaildrop] = [:]
        for entry in self.entries where wanted.contains(entry.account) {
            let message: WireMessage
            if let known = byDigest[entry.digest] {
                message = known
            } else {
                let path = entry.path.hasPrefix("/") ? entry.path : self.directory + "/" + entry.path
                guard let stored = FileManager.default.contents(atPath: path) else {
                    throw Invalid(description: "cannot read \(path)")
                }
                let crlf = WireForm.crlf(stored)
                let digest = SHA256.hash(data: crlf).map { String(format: "%02x", $0) }.joined()
                guard crlf.count == entry.size, digest == entry.digest else {
                    throw Invalid(description: "\(path): size or digest differs from the manifest")
                }
                message = WireMessage(stored: stored)
                byDigest[entry.digest] = message
            }
            result[entry.account, default: ExpectedMaildrop()].add(message)
        }
        for account in wanted where result[account] == nil {
            throw Invalid(description: "the manifest lists no messages for \(account)")
        }
        return result
    }
}

/// What one account's maildrop must hold, found by size.
struct ExpectedMaildrop: Sendable {
    /// The distinct messages of each size.
    private(set) var bySize: [Int: [WireMessage]] = [:]
    /// Every message, in manifest order (copies share their bytes).
    private(set) var messages: [WireMessage] = []
    private(set) var totalSize = 0

    var count: Int { self.messages.count }

    mutating func add(_ message: WireMessage) {
        if !self.bySize[message.size, default: []].contains(message) {
            self.bySize[message.size, default: []].append(message)
        }
        self.messages.append(message)
        self.totalSize += message.size
    }

    /// The messages a listed size can be.
    func candidates(size: Int) -> [WireMessage]? {
        self.bySize[size]
    }
}
