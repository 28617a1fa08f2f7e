// A locked Maildir maildrop: the snapshot taken at open, streamed reads, deletions at UPDATE.

import FileIO
import NIOConcurrencyHelpers
import NIOCore

/// The `Maildrop` of `MaildirStore`: `new/` and `cur/` of one Maildir as listed at open.
///
/// Another MUA may rename a message while the session runs (new flags, or `new/` → `cur/`);
/// reads and deletions then find it again by its base name. Mail delivered after the open is
/// not in the snapshot (RFC 1939 §8 sessions see a fixed maildrop).
final class MaildirMaildrop: Maildrop {
    /// The largest chunk `readContent` hands out: one trip to the blocking-I/O pool each.
    /// Measured under RETR with 8 sessions on one core: twice 64 KiB halves the trips (two
    /// thread switches each) and cost a third less server CPU per megabyte; 256 KiB cost more
    /// than 128 KiB in the same runs (more of each session's buffers out of the cache).
    static let chunkSize = 128 * 1024

    let messages: [MaildropMessage]
    let maildir: Maildir
    /// How the snapshot was built (for tests: how many files were read for sizes, how many
    /// directories listed).
    let sizesComputed: Int
    let sizesFromCache: Int
    let directoriesListed: Int

    /// The files, by message index (shared with the listing cache, not copied).
    private let files: [MaildirListing.Entry]
    private let lease: MaildropLease
    /// The cache the listing is kept in, under which path, and which listing it is there: told
    /// of deletions.
    private let cache: (MaildirListingCache, path: String, generation: UInt64)?
    /// Locations of files found again after a rename, by message index.
    private let moved = NIOLockedValueBox<[Int: MaildirLocation]>([:])

    init(maildir: Maildir, scan: MaildirScan, lease: MaildropLease, cache: (MaildirListingCache, String, UInt64)?) {
        self.maildir = maildir
        self.files = scan.listing.entries
        self.messages = scan.listing.messages
        self.sizesComputed = scan.sizesComputed
        self.sizesFromCache = scan.sizesFromCache
        self.directoriesListed = scan.directoriesListed
        self.lease = lease
        self.cache = cache
    }

    deinit {
        self.lease.close()
    }

    /// Streams message `index` as stored, in chunks of at most ``chunkSize``, each read on the
    /// blocking-I/O pool: the open (with its size check) and the first read in one trip, then a
    /// trip per chunk; the file is closed in the trip that reads its last octet, so a message of
    /// one chunk costs one trip in all. The next read starts only after `body` returns.
    ///
    /// The open file waits for the socket to drain each chunk, so its descriptor counts against
    /// the process's `DescriptorBudget` like a lock file (room made the same way); with none left
    /// the read fails with `.io` before anything is sent.
    func readContent(at index: Int, _ body: (ByteBuffer) async throws -> Void) async throws {
        try self.checkIndex(index)
        try await self.withOperation {
            let budget = self.lease.budget
            var (chunk, rest) = try await BlockingIO.run {
                try MailStoreError.mapping {
                    // This session's lease runs an operation: making room never releases it.
                    guard MaildropLease.takeDescriptor(in: budget) else {
                        throw MailStoreError.io("no file descriptor left to read message \(index + 1); try again later")
                    }
                    do {
                        return try self.openMessage(index).readChunk()
                    } catch {
                        budget.returnFile()
                        throw error
                    }
                }
            }
            defer { budget.returnFile() }
            while true {
                if chunk.readableBytes > 0 {
                    do {
                        _ = try self.lease.recordActivity()
                        try await body(chunk)
                    } catch {
                        rest?.close()
                        throw error
                    }
                }
                guard let file = rest else { return }
                (chunk, rest) = try await BlockingIO.run { try MailStoreError.mapping { try file.readChunk() } }
            }
        }
    }

    /// Unlinks the messages at `indices`, finding renamed ones by base name; files already gone
    /// are skipped. Then fsyncs `new/` and `cur/` so the removals are durable. Throws
    /// `.takenOver` (deleting nothing) if the session lost its lease.
    func commitDeletions(_ indices: [Int]) async throws {
        for index in indices {
            try self.checkIndex(index)
        }
        let sorted = Set(indices).sorted()
        try await self.withOperation {
            try await BlockingIO.run { try MailStoreError.mapping { try self.deleteFiles(sorted) } }
        }
        if let (cache, path, generation) = self.cache {
            cache.removeMessages(sorted, for: path, generation: generation)
        }
    }

    func touch() async throws {
        if try self.lease.recordActivity() {
            return
        }
        let lease = self.lease
        try await BlockingIO.run { try MailStoreError.mapping { try lease.reacquire() } }
    }

    func whenTakenOver(_ handler: @escaping @Sendable () -> Void) {
        self.lease.whenLost(handler)
    }

    func close() async {
        self.lease.close()
    }

    /// Whether the session holds the flock right now (it is released after a silence).
    var isLeaseHeld: Bool { self.lease.isHeld }

    // MARK: - Helpers

    private func checkIndex(_ index: Int) throws {
        guard self.files.indices.contains(index) else {
            throw MailStoreError.io("no message \(index + 1) in this maildrop")
        }
    }

    /// Runs `work` with the lease held and marked busy, taking a released lease back first.
    private func withOperation(_ work: () async throws -> Void) async throws {
        if try !self.lease.beginOperation() {
            let lease = self.lease
            try await BlockingIO.run { try MailStoreError.mapping { try lease.reacquire() } }
            guard try self.lease.beginOperation() else { throw MailStoreError.takenOver }
        }
        defer { self.lease.endOperation() }
        try await work()
    }

    private func location(of index: Int) -> MaildirLocation {
        self.moved.withLockedValue { $0[index] } ?? self.files[index].location
    }

    /// Opens message `index`, finding it again by base name if another program renamed it.
    /// Throws when it is gone, or when its size is not the one known at open (truncated or
    /// rewritten by another program): its listed size would no longer be honest.
    private func openMessage(_ index: Int) throws -> MessageFile {
        guard let (file, found) = try self.maildir.openMessage(self.location(of: index)) else {
            throw MailStoreError.io("message \(index + 1) no longer exists")
        }
        if found != self.files[index].location {
            self.moved.withLockedValue { $0[index] = found }
        }
        guard let expected = self.files[index].fileSize else {
            return MessageFile(file: file, remaining: nil)
        }
        let actual: Int
        do {
            actual = try file.status().size
        } catch {
            file.closeQuietly()
            throw error
        }
        guard actual == expected else {
            file.closeQuietly()
            throw MailStoreError.io(
                "message \(index + 1) changed since the session began (\(expected) octets, now \(actual))"
            )
        }
        return MessageFile(file: file, remaining: expected)
    }

    /// Unlinks the files, finding renamed ones by base name (one listing for all that moved),
    /// then fsyncs `new/` and `cur/`.
    private func deleteFiles(_ indices: [Int]) throws(FileIOError) {
        var missing: [Int] = []
        for index in indices {
            let removed = try FileSystem.remove(self.maildir.path(of: self.location(of: index)))
            if !removed {
                missing.append(index)
            }
        }
        if !missing.isEmpty {
            let listing = try self.maildir.listMessages()
            for index in missing {
                if let found = listing[self.files[index].baseName] {
                    try FileSystem.remove(self.maildir.path(of: found))
                }
            }
        }
        for subdirectory in MaildirSubdirectory.allCases {
            try FileSystem.syncDirectory(self.maildir.path(of: subdirectory))
        }
    }
}

/// A message file open for `readContent`, and how much of it is left to read.
private struct MessageFile: Sendable {
    let file: File
    /// Octets not read yet of the size checked at open; `nil` when the size is not known (read
    /// to the end of the file).
    let remaining: Int?

    /// Reads the next chunk, of at most ``MaildirMaildrop/chunkSize`` octets. Returns it with
    /// the file and what is left, or with `nil` when this read reached the end (the file is then
    /// closed, as it is when the read throws).
    func readChunk() throws -> (ByteBuffer, MessageFile?) {
        let wanted = min(self.remaining ?? MaildirMaildrop.chunkSize, MaildirMaildrop.chunkSize)
        var buffer = ByteBufferAllocator().buffer(capacity: wanted)
        let count: Int
        do {
            count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { pointer in
                try self.file.read(into: UnsafeMutableRawBufferPointer(rebasing: pointer[..<wanted]))
            }
        } catch {
            self.file.closeQuietly()
            throw error
        }
        // A file that ends early was truncated since the open: what it had is all it sends.
        let remaining = self.remaining.map { $0 - count }
        guard count > 0, remaining != 0 else {
            self.file.closeQuietly()
            return (buffer, nil)
        }
        return (buffer, MessageFile(file: self.file, remaining: remaining))
    }

    /// Closes the file when the stream stops before its end.
    func close() {
        self.file.closeQuietly()
    }
}
