// POSIX record locks (fcntl) held by a thread of this process: the kernel lock excludes other
// processes, an in-process lock excludes the other threads.

import NIOConcurrencyHelpers
public import SystemPackage

/// Runs work under an `fcntl(2)` write lock on a whole file that also excludes this process's
/// other threads.
///
/// Record locks belong to the process: they keep other programs out (MTAs, MDAs and mail readers
/// lock mbox files this way) but never conflict within one process, and closing *any*
/// descriptor of the file in this process drops them. So every holder also takes one
/// process-wide lock, opens and closes its descriptor inside it, and every other access to such
/// a file in this process (a read, an fsync) goes through `withProcessLock`. It is one lock for
/// all files, since two paths may name the same file.
public enum RecordLock {
    private static let inProcess = NIOLock()

    /// Takes the in-process lock, opens `path` for reading and writing (creating it, mode 0600,
    /// when `create` is set), waits for the record lock, runs `body` and closes the file — which
    /// releases the record lock — before the in-process lock.
    public static func withExclusiveLock<Result>(
        opening path: FilePath,
        create: Bool = false,
        _ body: (File) throws -> Result
    ) throws -> Result {
        try Self.inProcess.withLock {
            let file = try File.open(path, .readWrite, options: create ? [.create] : [])
            defer { file.closeQuietly() }
            try file.lockRecords()
            return try body(file)
        }
    }

    /// Runs `body` holding only the in-process lock: for other work on a record-locked file
    /// that opens and closes a descriptor of it (closing one would drop another thread's lock).
    public static func withProcessLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        try Self.inProcess.withLock(body)
    }
}
