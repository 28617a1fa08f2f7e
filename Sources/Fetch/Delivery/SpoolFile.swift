// A temporary file written in bounded memory and made durable with fsync.
import Crypto
import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file being written: bytes go through `LocalTextTransform` into a small buffer flushed to
/// the file descriptor, so memory stays bounded whatever the message size.
final class SpoolFile {
    let path: String
    private(set) var descriptor: Int32
    private var transform: LocalTextTransform
    private var buffer: [UInt8] = []
    /// Bytes written to the file so far.
    private(set) var size = 0
    /// SHA-256 of the bytes written, in order; nil once bytes were overwritten in place.
    private var hasher: SHA256? = SHA256()
    private static let flushThreshold = 64 * 1024

    /// Creates (truncating) `path`. A leftover of an earlier crashed attempt is overwritten.
    init(path: String, quoteFromLines: Bool) throws {
        self.path = path
        transform = LocalTextTransform(quoteFromLines: quoteFromLines)
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw FetchFailure(kind: .localWrite, message: "cannot create \(path): \(systemError())")
        }
        buffer.reserveCapacity(Self.flushThreshold * 2)
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Writes bytes verbatim (trace headers, separators).
    func writeRaw(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        try flushIfNeeded()
    }

    /// Writes message bytes through the transform.
    func writeMessage(_ chunk: ByteBuffer) throws {
        chunk.withUnsafeReadableBytes { raw in
            transform.transform(raw, into: &buffer)
        }
        try flushIfNeeded()
    }

    /// Ends the message content; returns whether it ended with a newline and its line count.
    func finishMessage() throws -> (endsWithNewline: Bool, lineFeeds: Int) {
        transform.finish(into: &buffer)
        try flush()
        return (transform.endsWithNewline, transform.lineFeeds)
    }

    /// Writes everything buffered, then fsyncs the file.
    func sync() throws {
        try flush()
        guard fsync(descriptor) == 0 else {
            throw FetchFailure(kind: .localWrite, message: "fsync \(path): \(systemError())")
        }
    }

    /// Overwrites bytes at an offset (a placeholder written earlier).
    func overwrite(_ bytes: [UInt8], at offset: Int) throws {
        try flush()
        hasher = nil
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
        guard written == bytes.count else {
            throw FetchFailure(kind: .localWrite, message: "write \(path): \(systemError())")
        }
    }

    /// The SHA-256 of the file's bytes as written (for the offline mailbox's manifest), once
    /// everything is flushed; nil when bytes were overwritten in place.
    func contentDigest() throws -> [UInt8]? {
        try flush()
        return hasher.map { Array($0.finalize()) }
    }

    func closeFile() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
    }

    func remove() {
        closeFile()
        unlink(path)
    }

    private func flushIfNeeded() throws {
        if buffer.count >= Self.flushThreshold {
            try flush()
        }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try writeAll(descriptor: descriptor, bytes: buffer, path: path)
        hasher?.update(data: buffer)
        size += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Writes every byte, retrying short writes and EINTR.
func writeAll(descriptor: Int32, bytes: [UInt8], path: String) throws {
    try bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)  // safe: count > 0
            if written < 0 {
                if errno == EINTR { continue }
                throw FetchFailure(kind: .localWrite, message: "write \(path): \(systemError())")
            }
            offset += written
        }
    }
}

/// fsyncs a directory, so a rename into it is durable.
/// fsyncs a file that is already written (a copy found from an interrupted run).
func syncFile(_ path: String) throws {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw FetchFailure(kind: .localWrite, message: "open \(path): \(systemError())")
    }
    defer { close(fd) }
    guard fsync(fd) == 0 else {
        throw FetchFailure(kind: .localWrite, message: "fsync \(path): \(systemError())")
    }
}

func syncDirectory(_ path: String) throws {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else {
        throw FetchFailure(kind: .localWrite, message: "open directory \(path): \(systemError())")
    }
    defer { close(fd) }
    guard fsync(fd) == 0 else {
        throw FetchFailure(kind: .localWrite, message: "fsync directory \(path): \(systemError())")
    }
}

/// The trace header lines put at the top of every stored message (RFC 5322 §3.6.7).
enum TraceHeader {
    static func lines(for envelope: DeliveryEnvelope) -> [UInt8] {
        var text =
            "Received: from \(sanitize(envelope.serverHost)) by postoffice (POP3) for <\(sanitize(envelope.user))>;"
        text += " \(rfc5322Date(envelope.receivedAt))\n"
        text += "X-PostOffice-UIDL: \(sanitize(envelope.key.uniqueID))\n"
        if envelope.headersOnly {
            text += "X-PostOffice-Headers-Only: yes\n"
        }
        return Array(text.utf8)
    }

    /// Keeps header text on one line of printable ASCII.
    static func sanitize(_ value: String) -> String {
        String(String.UnicodeScalarView(value.unicodeScalars.map { $0.value >= 0x21 && $0.value <= 0x7E ? $0 : "_" }))
    }

    /// `Thu, 13 Feb 2025 10:00:00 +0000` (RFC 5322 §3.3), in UTC.
    static func rfc5322Date(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// `Thu Feb 13 10:00:00 2025` (asctime, for the mbox `From ` line).
    static func asctime(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "EEE MMM d HH:mm:ss yyyy"
        let text = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        // asctime pads the day of month to two columns with a space.
        var parts = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 5, parts[2].count == 1 { parts[2] = " " + parts[2] }
        return parts.joined(separator: " ")
    }
}
