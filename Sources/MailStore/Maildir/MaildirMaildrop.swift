// A locked Maildir maildrop: the snapshot taken at open, streamed reads, deletions at UPDATE.

import FileIO
import NIOCore
import Synchronization
import SystemPackage

/// The `Maildrop` of `MaildirStore`: `new/` and `cur/` of one Maildir as listed at open.
///
/// Another MUA may rename a message while the session runs (new flags, or `new/` → `cur/`);
/// reads and deletions then find it again by its base name. Mail delivered after the open is
/// not in the snapshot (RFC 1939 §8 sessions see a fixed maildrop).
final class MaildirMaildrop: Maildrop {
    /// The size of the chunks `readContent` hands out.
    static let chunkSize = 64 * 1024

    let messages: [MaildropMessage]
    /// The Maildir root.
    let root: RawPath
    /// How the snapshot was built (for tests: how many files were read for sizes).
    let sizesComputed: Int
    let sizesFromCache: Int

    private let files: [MaildirSnapshot.Message]
    private let lease: MaildropLease
    /// Locations of files found again after a rename, by message index.
    private let moved = Mutex<[Int: MaildirLocation]>([:])

    init(root: RawPath, snapshot: MaildirSnapshot, lease: MaildropLease) {
        self.root = root
        self.files = snapshot.messages
        self.messages = snapshot.messages.map { MaildropMessage(uniqueID: $0.uniqueID, size: $0.size) }
        self.sizesComputed = snapshot.sizesComputed
        self.sizesFromCache = snapshot.sizesFromCache
        self.lease = lease
    }

    deinit {
        self.lease.close()
    }

    /// Streams message `index` as stored, in chunks of at most 64 KiB, each read on the
    /// blocking-I/O queue; the next read starts only after `body` returns.
    func readContent(at index: Int, _ body: (ByteBuffer) async throws -> Void) async throws {
        try self.checkIndex(index)
        try await self.withOperation {
            let path = try await BlockingIO.run { try self.openMessage(index) }
            let fd = path.descriptor
            do {
                while true {
                    let chunk = try await BlockingIO.run { try Self.readChunk(fd, path: path.path) }
                    if chunk.readableBytes == 0 {
                        break
                    }
                    _ = try self.lease.recordActivity()
                    try await body(chunk)
                }
            } catch {
                try? fd.close()
                throw error
            }
            try? fd.close()
        }
    }

    /// Unlinks the messages at `indices`, finding renamed ones by base name; files already gone
    /// are skipped. Then fsyncs `new/` and `cur/` so the removals are durable. Throws
    /// `.takenOver` (deleting nothing) if the session lost its lease.
    func commitDeletions(_ indices: [Int]) async throws {
        for index in indices {
            try self.checkIndex(index)
        }
        try await self.withOperation {
            try await BlockingIO.run { try self.deleteFiles(Set(indices).sorted()) }
        }
    }

    func touch() async throws {
        if try self.lease.recordActivity() {
            return
        }
        let lease = self.lease
        try await BlockingIO.run { try lease.reacquire() }
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
            try await BlockingIO.run { try lease.reacquire() }
            guard try self.lease.beginOperation() else { throw MailStoreError.takenOver }
        }
        defer { self.lease.endOperation() }
        try await work()
    }

    private func location(of index: Int) -> MaildirLocation {
        self.moved.withLock { $0[index] } ?? self.files[index].location
    }

    private struct OpenFile: Sendable {
        var descriptor: SystemPackage.FileDescriptor
        var path: RawPath
    }

    private func openMessage(_ index: Int) throws -> OpenFile {
        let path = self.location(of: index).path(in: self.root)
        if let fd = try Posix.openForReading(path) {
            return OpenFile(descriptor: fd, path: path)
        }
        if let found = try MaildirScanner.locate(baseName: self.files[index].location.baseName, root: self.root) {
            self.moved.withLock { $0[index] = found }
            let newPath = found.path(in: self.root)
            if let fd = try Posix.openForReading(newPath) {
                return OpenFile(descriptor: fd, path: newPath)
            }
        }
        throw MailStoreError.io("message \(index + 1) no longer exists")
    }

    private static func readChunk(_ fd: SystemPackage.FileDescriptor, path: RawPath) throws -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: Self.chunkSize)
        _ = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.chunkSize) { pointer in
            try Posix.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: pointer[..<Self.chunkSize]), path: path)
        }
        return buffer
    }

    private func deleteFiles(_ indices: [Int]) throws {
        var missing: [Int] = []
        for index in indices {
            let removed = try Posix.removeFile(self.location(of: index).path(in: self.root))
            if !removed {
                missing.append(index)
            }
        }
        if !missing.isEmpty {
            let listing = try MaildirScanner.listMessages(root: self.root)
            for index in missing {
                if let found = listing[self.files[index].location.baseName] {
                    try Posix.removeFile(found.path(in: self.root))
                }
            }
        }
        for subdirectory in MaildirSubdirectory.allCases {
            try Posix.syncDirectory(self.root.appending(subdirectory.rawValue))
        }
    }
}
