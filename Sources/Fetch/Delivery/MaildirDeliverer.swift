// Maildir delivery: tmp/ -> fsync -> rename into new/ -> fsync new/. Names derive from the key.
import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stores each message as `new/<time>.<hash>.<host>,S=<size>,W=<crlf size>`.
///
/// `<hash>` is `DeliveryKey.hash`; before writing, `new/` and `cur/` are searched for a name
/// whose second dot-separated part is that hash (a mail reader may have moved it to `cur/` and
/// added `:2,` flags). Found means "stored by an interrupted run": it is recorded, not written
/// again. The temporary file is `tmp/<hash>.<host>`, so a leftover of a crash is overwritten.
final class MaildirDeliverer: Deliverer {
    let root: String
    private let host: String
    /// Hash part -> paths relative to `root` ("new/NAME", "cur/NAME"); built on first use.
    private var index: [String: [String]]?
    /// Directories changed by commits since the last `syncCommitted()`.
    private var unsyncedDirectories: Set<String> = []

    init(path: String) throws {
        root = path
        host = Self.hostPart()
        try makeDirectories(root)
        for directory in [root + "/tmp", root + "/new", root + "/cur"] {
            if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw FetchFailure(kind: .localWrite, message: "cannot create \(directory): \(systemError())")
            }
        }
    }

    /// A copy an interrupted run stored; made durable before it is returned, since the caller
    /// records it and then deletes the server's copy, and the interrupted run may have died
    /// between its rename and the directory's fsync.
    func existingLocation(of key: DeliveryKey) throws -> String? {
        guard let relative = try loadIndex()[key.hash]?.first else { return nil }
        let path = root + "/" + relative
        try syncFile(path)
        if let slash = path.lastIndex(of: "/") { try syncDirectory(String(path[..<slash])) }
        return path
    }

    /// Files, and a new copy replaces an earlier one (renamed into place, then the old unlinked).
    var capabilities: DeliveryCapabilities {
        var capabilities = DeliveryCapabilities.files
        capabilities.replacesCopies = true
        return capabilities
    }

    func presentKeys() throws -> Set<String> {
        Set(try loadIndex().keys)
    }

    func isHeadersOnlyCopy(at location: String) -> Bool {
        HeadersOnlyMarker.isHeadersOnly(path: location)
    }

    func makeWriter(for envelope: DeliveryEnvelope, replacing: Bool) throws -> any MessageWriter {
        let hash = envelope.key.hash
        let spool = try SpoolFile(path: "\(root)/tmp/\(hash).\(host)", quoteFromLines: false)
        try spool.writeRaw(TraceHeader.lines(for: envelope))
        return Writer(
            deliverer: self,
            spool: spool,
            hash: hash,
            baseName: "\(envelope.receivedAt).\(hash).\(host)",
            replacing: replacing
        )
    }

    /// The new copy is visible; its directory is fsynced by `syncCommitted()` (once for a group).
    /// An earlier copy it replaces goes only once the new one is durable.
    fileprivate func committed(hash: String, relativePath: String, replacing: Bool) throws {
        var others: [String] = []
        if replacing, let existing = try loadIndex()[hash] {
            others = existing.filter { $0 != relativePath }
        }
        if !others.isEmpty {
            try syncDirectory(root + "/new")
            for other in others {
                unlink(root + "/" + other)
            }
            unsyncedDirectories.insert(root + "/cur")
        }
        unsyncedDirectories.insert(root + "/new")
        index?[hash] = [relativePath]
    }

    func syncCommitted() throws {
        for directory in unsyncedDirectories.sorted() {
            try syncDirectory(directory)
        }
        unsyncedDirectories.removeAll()
    }

    private func loadIndex() throws -> [String: [String]] {
        if let index { return index }
        var built: [String: [String]] = [:]
        for subdirectory in ["new", "cur"] {
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: root + "/" + subdirectory)
            } catch {
                throw FetchFailure(kind: .localWrite, message: "cannot list \(root)/\(subdirectory): \(error)")
            }
            for name in names {
                let parts = name.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count >= 2, parts[1].count == 32 else { continue }
                built[String(parts[1]), default: []].append(subdirectory + "/" + name)
            }
        }
        index = built
        return built
    }

    /// The host name with `/` and `:` escaped as qmail does (`\057`, `\072`); `.` is escaped
    /// too (`\056`) so the name's dot-separated parts stay fixed.
    private static func hostPart() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let name =
            gethostname(&buffer, buffer.count) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        var escaped = ""
        for character in name {
            switch character {
            case "/": escaped += "\\057"
            case ":": escaped += "\\072"
            case ".": escaped += "\\056"
            case ",": escaped += "\\054"
            default: escaped.append(character)
            }
        }
        return escaped.isEmpty ? "localhost" : escaped
    }

    private final class Writer: MessageWriter {
        let deliverer: MaildirDeliverer
        let spool: SpoolFile
        let hash: String
        let baseName: String
        let replacing: Bool
        var lineFeeds = 0
        private(set) var contentDigest: [UInt8]?

        init(deliverer: MaildirDeliverer, spool: SpoolFile, hash: String, baseName: String, replacing: Bool) {
            self.deliverer = deliverer
            self.spool = spool
            self.hash = hash
            self.baseName = baseName
            self.replacing = replacing
        }

        func write(_ chunk: ByteBuffer) throws {
            try spool.writeMessage(chunk)
        }

        func sync() throws {
            lineFeeds = try spool.finishMessage().lineFeeds
            contentDigest = try spool.contentDigest()
            try spool.sync()
            spool.closeFile()
        }

        func commit() throws -> String {
            // ,S= is the file size; ,W= the size with CRLF line ends (Dovecot, maildir++).
            let relative = "new/\(baseName),S=\(spool.size),W=\(spool.size + lineFeeds)"
            let target = deliverer.root + "/" + relative
            guard rename(spool.path, target) == 0 else {
                throw FetchFailure(kind: .localWrite, message: "rename into \(target): \(systemError())")
            }
            try deliverer.committed(hash: hash, relativePath: relative, replacing: replacing)
            return target
        }

        func discard() {
            spool.remove()
        }
    }
}
