// mbox delivery (mboxrd) with fcntl locking, fsync, and recognition of earlier appends.
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Appends messages to an mbox file.
///
/// Each entry is written as
///
///     From MAILER-DAEMON <asctime>
///     X-PostOffice-Key: <hash> <entry length, 12 digits>
///     Received: … / X-PostOffice-UIDL: …
///     <message, LF line ends, mboxrd-quoted>
///     <blank line>
///
/// How duplicates are avoided: the message is first spooled to a temporary file next to the
/// mbox (bounded memory), its length written into the `X-PostOffice-Key` line, and fsynced. The
/// append then happens under an `fcntl` write lock (`F_SETLKW`), followed by `fsync`. If the run
/// dies after the append but before the state records it, the next run scans the mbox (once per
/// run, only when something is to be downloaded) for `From ` lines directly followed by an
/// `X-PostOffice-Key` line: a complete entry with the same hash means "already stored", so it is
/// recorded without appending again. Body text cannot fake this: mboxrd quotes every body line
/// matching `>*From `, and the entry's length must end exactly on a blank line followed by the
/// next `From ` line or the end of the file. An entry torn by a crash mid-append at the end of
/// the file is truncated away.
final class MboxDeliverer: Deliverer {
    let path: String
    private let directory: String
    private let baseName: String
    /// Hash -> offset of complete entries; built on first use.
    private var index: [String: Int]?
    private(set) var truncatedTornEntry = false

    /// fcntl record locks belong to the process: they keep other programs out, but not the
    /// other accounts this process fetches at the same time into the same file. Every locked
    /// section (append, index scan) also holds this lock, so those take turns. One lock for all
    /// mbox files: two paths may name the same file.
    private static let inProcess = Mutex(())

    static let keyHeader = Array("X-PostOffice-Key: ".utf8)
    static let lengthDigits = 12

    init(path: String) throws {
        self.path = path
        if let slash = path.lastIndex(of: "/") {
            directory = String(path[..<slash]).isEmpty ? "/" : String(path[..<slash])
            baseName = String(path[path.index(after: slash)...])
        } else {
            directory = "."
            baseName = path
        }
        try makeDirectories(directory)
    }

    /// A copy an interrupted run appended; the mbox is fsynced before it is returned (the run
    /// may have died between its write and its fsync, and the caller goes on to delete the
    /// server's copy).
    func existingLocation(of key: DeliveryKey) throws -> String? {
        guard let offset = try loadIndex()[key.hash] else { return nil }
        try syncFile(path)
        return "mbox:\(offset):\(key.hash)"
    }

    /// Files; entries are appended, never rewritten, so an earlier copy stays beside a new one.
    var capabilities: DeliveryCapabilities { .files }

    func presentKeys() throws -> Set<String> {
        Set(try loadIndex().keys)
    }

    /// `location` is `mbox:OFFSET:HASH` (see `existingLocation(of:)`).
    func isHeadersOnlyCopy(at location: String) -> Bool {
        let parts = location.split(separator: ":")
        guard parts.count == 3, parts[0] == "mbox", let offset = Int(parts[1]), offset >= 0 else { return true }
        return HeadersOnlyMarker.isHeadersOnly(path: path, offset: offset)
    }

    /// The spool file of the entry with this hash, next to the mbox.
    private func spoolPath(hash: String) -> String {
        "\(directory)/.\(baseName).postoffice-\(hash).tmp"
    }

    func makeWriter(for envelope: DeliveryEnvelope, replacing: Bool) throws -> any MessageWriter {
        let hash = envelope.key.hash
        let spool = try SpoolFile(path: spoolPath(hash: hash), quoteFromLines: true)
        let fromLine = Array("From MAILER-DAEMON \(TraceHeader.asctime(envelope.receivedAt))\n".utf8)
        let placeholderOffset = fromLine.count + Self.keyHeader.count + hash.utf8.count + 1
        try spool.writeRaw(fromLine)
        try spool.writeRaw(
            Self.keyHeader + Array("\(hash) ".utf8) + Array(repeating: UInt8(ascii: "0"), count: Self.lengthDigits) + [
                10
            ]
        )
        try spool.writeRaw(TraceHeader.lines(for: envelope))
        return Writer(deliverer: self, spool: spool, hash: hash, lengthOffset: placeholderOffset)
    }

    // MARK: - Appending

    fileprivate func append(spool: SpoolFile, hash: String) throws -> String {
        try Self.inProcess.withLock { _ in try appendLocked(spool: spool, hash: hash) }
    }

    private func appendLocked(spool: SpoolFile, hash: String) throws -> String {
        let fd = try openLocked()
        defer { close(fd) }  // closing releases the fcntl lock
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0 else { throw failure("seek") }
        var prefix: [UInt8] = []
        if size > 0 {
            let tail = readBytes(fd, at: max(0, Int(size) - 2), count: min(2, Int(size)))
            if tail.last != 10 {
                prefix = [10, 10]
            } else if tail.count == 2 && tail[0] != 10 {
                prefix = [10]
            }
        }
        do {
            if !prefix.isEmpty {
                try writeAll(descriptor: fd, bytes: prefix, path: path)
            }
            let source = open(spool.path, O_RDONLY | O_CLOEXEC)
            guard source >= 0 else { throw failure("open \(spool.path)") }
            defer { close(source) }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw failure("read \(spool.path)")
                }
                if count == 0 { break }
                try writeAll(descriptor: fd, bytes: Array(chunk[0..<count]), path: path)
            }
            guard fsync(fd) == 0 else { throw failure("fsync") }
        } catch {
            // Leave the mbox as it was: no half message.
            _ = ftruncate(fd, size)
            _ = fsync(fd)
            throw error
        }
        let offset = Int(size) + prefix.count
        index?[hash] = offset
        return "mbox:\(offset):\(hash)"
    }

    private func openLocked() throws -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("open") }
        var lock = flock()
        lock.l_type = Int16(F_WRLCK)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        while fcntl(fd, F_SETLKW, &lock) != 0 {
            if errno == EINTR { continue }
            let error = failure("lock")
            close(fd)
            throw error
        }
        return fd
    }

    private func failure(_ what: String) -> FetchFailure {
        FetchFailure(kind: .localWrite, message: "mbox \(path): \(what): \(systemError())")
    }

    // MARK: - Recognising earlier appends

    private func loadIndex() throws -> [String: Int] {
        if let index { return index }
        let built = try Self.inProcess.withLock { _ in try scanIndex() }
        index = built
        return built
    }

    private func scanIndex() throws -> [String: Int] {
        var built: [String: Int] = [:]
        if access(path, F_OK) == 0 {
            let fd = try openLocked()
            defer { close(fd) }
            let size = Int(lseek(fd, 0, SEEK_END))
            let candidates = scanCandidates(fd)
            for (position, candidate) in candidates.enumerated() {
                let end = candidate.offset + candidate.length
                if isComplete(fd, end: end, size: size) {
                    built[candidate.hash] = candidate.offset
                } else if position == candidates.count - 1 && end > size
                    && !hasSeparator(fd, after: candidate.offset, size: size)
                {
                    // Torn by a crash during the append, and nothing else was appended since:
                    // remove it so it is written again whole. When another program (an MDA, the
                    // system's mail delivery) appended mail after it, the torn entry is left as
                    // it is: junk in the file is better than cutting someone else's message.
                    guard ftruncate(fd, off_t(candidate.offset)) == 0, fsync(fd) == 0 else {
                        throw failure("truncate a torn entry")
                    }
                    truncatedTornEntry = true
                }
            }
        }
        // A run killed after the append but before it removed its spool file leaves that file
        // behind; the entry is complete, so the spool is garbage. Only this account's run (it
        // holds the account lock) writes spools with these hashes.
        for hash in built.keys {
            unlink(spoolPath(hash: hash))
        }
        return built
    }

    /// Whether a `From ` line starts anywhere after `offset`: in mboxrd every body line that
    /// starts so is quoted, so such a line is another entry's separator.
    private func hasSeparator(_ fd: Int32, after offset: Int, size: Int) -> Bool {
        let pattern = Array("\nFrom ".utf8)
        let chunk = 64 * 1024
        var position = offset
        while position < size {
            let bytes = readBytes(fd, at: position, count: min(chunk + pattern.count, size - position))
            if bytes.isEmpty { return false }
            if bytes.count >= pattern.count {
                for index in 0...(bytes.count - pattern.count) where bytes[index] == 10 {
                    if Array(bytes[index..<index + pattern.count]) == pattern { return true }
                }
            }
            position += chunk
        }
        return false
    }

    private func isComplete(_ fd: Int32, end: Int, size: Int) -> Bool {
        guard end >= 2, end <= size else { return false }
        guard readBytes(fd, at: end - 2, count: 2) == [10, 10] else { return false }
        return end == size || readBytes(fd, at: end, count: 5) == Array("From ".utf8)
    }

    private struct Candidate {
        var hash: String
        var offset: Int
        var length: Int
    }

    /// One pass over the file, keeping only the first bytes of each line (bounded memory).
    private func scanCandidates(_ fd: Int32) -> [Candidate] {
        var candidates: [Candidate] = []
        let headLimit = Self.keyHeader.count + 32 + 1 + Self.lengthDigits
        var head: [UInt8] = []
        var lineStart = 0
        var position = 0
        var previousBlank = true
        var fromLineAt: Int?
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        _ = lseek(fd, 0, SEEK_SET)

        func endLine() {
            if let start = fromLineAt {
                fromLineAt = nil
                if let candidate = Self.parseKeyLine(head, offset: start) {
                    candidates.append(candidate)
                }
            }
            if previousBlank && head.starts(with: Array("From ".utf8)) {
                fromLineAt = lineStart
            }
            previousBlank = head.isEmpty
            head.removeAll(keepingCapacity: true)
        }

        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            for index in 0..<count {
                let byte = chunk[index]
                if byte == 10 {
                    endLine()
                    lineStart = position + index + 1
                } else if head.count < headLimit {
                    head.append(byte)
                }
            }
            position += count
        }
        return candidates
    }

    private static func parseKeyLine(_ line: [UInt8], offset: Int) -> Candidate? {
        guard line.starts(with: keyHeader) else { return nil }
        let rest = line[keyHeader.count...]
        guard rest.count == 32 + 1 + lengthDigits else { return nil }
        let hash = String(decoding: rest.prefix(32), as: UTF8.self)
        guard rest[rest.startIndex + 32] == UInt8(ascii: " "),
            let length = Int(String(decoding: rest.suffix(lengthDigits), as: UTF8.self)),
            length > 0
        else { return nil }
        return Candidate(hash: hash, offset: offset, length: length)
    }

    private func readBytes(_ fd: Int32, at offset: Int, count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        return got > 0 ? Array(bytes[0..<got]) : []
    }

    private final class Writer: MessageWriter {
        let deliverer: MboxDeliverer
        let spool: SpoolFile
        let hash: String
        let lengthOffset: Int

        init(deliverer: MboxDeliverer, spool: SpoolFile, hash: String, lengthOffset: Int) {
            self.deliverer = deliverer
            self.spool = spool
            self.hash = hash
            self.lengthOffset = lengthOffset
        }

        func write(_ chunk: ByteBuffer) throws {
            try spool.writeMessage(chunk)
        }

        func sync() throws {
            let (endsWithNewline, _) = try spool.finishMessage()
            try spool.writeRaw(endsWithNewline ? [10] : [10, 10])
            try spool.sync()
            let digits = String(spool.size)
            let padded = String(repeating: "0", count: max(0, MboxDeliverer.lengthDigits - digits.count)) + digits
            try spool.overwrite(Array(padded.utf8), at: lengthOffset)
            try spool.sync()
        }

        func commit() throws -> String {
            defer { spool.remove() }
            return try deliverer.append(spool: spool, hash: hash)
        }

        func discard() {
            spool.remove()
        }
    }
}
