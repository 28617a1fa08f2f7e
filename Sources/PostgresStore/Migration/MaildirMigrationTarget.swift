// A Maildir as the target of `postoffice migrate --to maildir:TEMPLATE`: files named by UIDL.
import FileIO
public import MailStore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes migrated messages into Maildirs so that the Maildir store gives them the UIDLs they
/// had: the Maildir store uses a file's base name as its UIDL when it is a valid one, so each
/// message is written to `new/UIDL` (maildir(5): to `tmp/` first, fsynced, linked into `new/`,
/// `new/` fsynced). A UIDL that cannot be a file name there (one with `/`, or `:` which starts a
/// Maildir flag suffix, or a leading `.`) is refused.
public struct MaildirMigrationTarget: MigrationTarget {
    public let maildirStore: MaildirStore
    public var store: any MailStore { maildirStore }

    public init(_ store: MaildirStore) {
        self.maildirStore = store
    }

    public func uniqueIDs(user: String) async throws -> Set<String> {
        let root = try maildirStore.maildirPath(for: user)
        return try await BlockingIO.run {
            var names = Set<String>()
            for sub in ["new", "cur"] {
                guard let directory = opendir(root + "/" + sub) else {
                    if errno == ENOENT { continue }
                    throw MailStoreError.io("cannot list \(root)/\(sub): \(String(cString: strerror(errno)))")
                }
                defer { closedir(directory) }
                while let entry = readdir(directory) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                    }
                    guard !name.hasPrefix(".") else { continue }
                    names.insert(String(name.prefix { $0 != ":" }))
                }
            }
            return names
        }
    }

    public func store(user: String, uniqueID: String, message: [UInt8]) async throws {
        guard PostgresMailStore.isValidUniqueID(uniqueID), !uniqueID.contains("/"), !uniqueID.contains(":"),
            !uniqueID.hasPrefix(".")
        else {
            throw MailStoreError.io("the UIDL '\(uniqueID)' cannot name a Maildir file")
        }
        let root = try maildirStore.maildirPath(for: user)
        try await BlockingIO.run {
            // The Maildir and the directories above it, as the Maildir store's delivery makes them.
            var parents: [String] = []
            var path = Substring(root)
            while let slash = path.lastIndex(of: "/"), slash > path.startIndex {
                path = path[..<slash]
                parents.append(String(path))
            }
            for directory in parents.reversed() + [root, root + "/tmp", root + "/new", root + "/cur"] {
                if mkdir(directory, 0o700) != 0, errno != EEXIST {
                    throw Self.failure("mkdir", directory)
                }
            }
            let temporary = "\(root)/tmp/\(uniqueID).\(getpid()).migrate"
            let destination = "\(root)/new/\(uniqueID)"
            _ = unlink(temporary)
            let file = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard file >= 0 else { throw Self.failure("open", temporary) }
            var written = 0
            while written < message.count {
                let count = message.withUnsafeBytes { raw in
                    write(file, raw.baseAddress! + written, raw.count - written)  // safe: count > written >= 0
                }
                if count < 0 {
                    if errno == EINTR { continue }
                    let error = Self.failure("write", temporary)
                    close(file)
                    unlink(temporary)
                    throw error
                }
                written += count
            }
            guard fsync(file) == 0 else {
                let error = Self.failure("fsync", temporary)
                close(file)
                unlink(temporary)
                throw error
            }
            close(file)
            guard link(temporary, destination) == 0 || errno == EEXIST else {
                let error = Self.failure("link", destination)
                unlink(temporary)
                throw error
            }
            unlink(temporary)
            let directory = open(root + "/new", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if directory >= 0 {
                _ = fsync(directory)
                close(directory)
            }
        }
    }

    private static func failure(_ call: String, _ path: String) -> MailStoreError {
        .io("\(call) \(path): \(String(cString: strerror(errno)))")
    }
}
