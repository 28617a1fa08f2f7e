// A file being written with a message streamed into it: bytes go through `LocalTextTransform`
// into a small buffer flushed to the file, so memory stays bounded whatever the message size.
// Maildir's tmp/ file, the mbox spool and the MDA spool are all written with it.

import Crypto
public import FileIO
public import NIOCore
public import SystemPackage

/// Streams a message into a new file: verbatim bytes (trace headers, separators) and message
/// bytes through the local-text transform, with the stored size, the CRLF size (`,W=`) and,
/// when asked, the SHA-256 of everything written. Blocking: use it on a `BlockingIO` thread.
/// Not shared between threads.
public final class MessageFileWriter {
    /// The file being written.
    public let path: FilePath
    private var file: File?
    private var transform: LocalTextTransform
    private var buffer: [UInt8] = []
    private var counter = CRLFSizeCounter()
    private var hasher: SHA256?
    private var finished = false
    /// Octets written to the file so far (after the transform).
    public private(set) var size = 0
    private static let flushThreshold = 64 * 1024

    /// Creates `path` (mode 0600), or truncates a file left there (a leftover of a crash, which
    /// this write replaces).
    ///
    /// - Parameters:
    ///   - quoteFromLines: quote `>*From ` lines of the message (mboxrd).
    ///   - computeDigest: keep the SHA-256 of the bytes written, for `digest()`.
    public init(path: FilePath, quoteFromLines: Bool, computeDigest: Bool = false) throws(FileIOError) {
        self.path = path
        self.transform = LocalTextTransform(quoteFromLines: quoteFromLines)
        self.hasher = computeDigest ? SHA256() : nil
        self.file = try File.open(path, .writeOnly, options: [.create, .truncate])
        // No buffer reserved up front: a small message needs a few KiB, and a fresh 128 KiB per
        // message made the allocator grow and trim its heap (mprotect, page faults) for every
        // one. A large message grows the buffer once; flushes keep its capacity.
    }

    deinit {
        self.file?.closeQuietly()
    }

    /// Writes bytes verbatim (trace headers, separators).
    public func writeRaw(_ bytes: some Sequence<UInt8>) throws(FileIOError) {
        self.buffer.append(contentsOf: bytes)
        try self.flushIfNeeded()
    }

    /// Writes message bytes (as a POP3 server sends them: CRLF line ends) through the transform.
    public func writeMessage(_ chunk: ByteBuffer) throws(FileIOError) {
        chunk.withUnsafeReadableBytes { raw in
            self.transform.transform(raw, into: &self.buffer)
        }
        try self.flushIfNeeded()
    }

    /// Writes message bytes through the transform.
    public func writeMessage(_ bytes: some Sequence<UInt8>) throws(FileIOError) {
        self.transform.transform(bytes, into: &self.buffer)
        try self.flushIfNeeded()
    }

    /// Ends the message content (flushing what the transform holds back); returns whether it
    /// ended with a line end.
    @discardableResult
    public func finishMessage() throws(FileIOError) -> Bool {
        if !self.finished {
            self.finished = true
            self.transform.finish(into: &self.buffer)
        }
        try self.flush()
        return self.transform.endsWithNewline
    }

    /// The size the written bytes have with CRLF line ends (RFC 1939 §5; Maildir's `,W=`).
    public var crlfSize: Int { self.counter.size }

    /// Overwrites bytes written earlier (a placeholder) at `offset`. The digest is then no
    /// longer kept.
    public func overwrite(_ bytes: [UInt8], at offset: Int) throws(FileIOError) {
        try self.flush()
        self.hasher = nil
        try self.openFile().write(bytes, at: offset)
    }

    /// The SHA-256 of the bytes written, in order, once everything is flushed; `nil` when not
    /// asked for or when bytes were overwritten in place.
    public func digest() throws(FileIOError) -> [UInt8]? {
        try self.flush()
        return self.hasher.map { Array($0.finalize()) }
    }

    /// Writes out everything buffered and fsyncs the file.
    public func sync() throws(FileIOError) {
        try self.flush()
        try self.openFile().sync()
    }

    /// Writes out everything buffered and starts the file's writeback without waiting
    /// (`File.startWriteback()`): `sync()` later finds the data on its way.
    public func startWriteback() throws(FileIOError) {
        try self.flush()
        try self.openFile().startWriteback()
    }

    /// Closes the file, checking the close (lost writes show there on some file systems).
    public func close() throws(FileIOError) {
        try self.flush()
        guard let file = self.file else { return }
        self.file = nil
        try file.close()
    }

    /// Closes and removes the file (an abandoned write).
    public func remove() {
        self.file?.closeQuietly()
        self.file = nil
        _ = try? FileSystem.remove(self.path)
    }

    private func openFile() throws(FileIOError) -> File {
        guard let file = self.file else { throw FileIOError("write", self.path, .badFileDescriptor) }
        return file
    }

    private func flushIfNeeded() throws(FileIOError) {
        if self.buffer.count >= Self.flushThreshold {
            try self.flush()
        }
    }

    private func flush() throws(FileIOError) {
        guard !self.buffer.isEmpty else { return }
        try self.openFile().write(self.buffer)
        self.hasher?.update(data: self.buffer)
        self.counter.update(self.buffer)
        self.size += self.buffer.count
        self.buffer.removeAll(keepingCapacity: true)
    }
}
