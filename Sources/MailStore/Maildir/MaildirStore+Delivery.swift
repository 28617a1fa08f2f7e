// Maildir delivery (maildir(5), "How a message is delivered"): write to tmp/, fsync, link
// into new/, fsync new/.

import FileIO

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension MaildirStore {
    /// Names tried before a delivery gives up (each is unique by construction; this only
    /// guards against a clock set back onto an existing name).
    static let deliveryAttempts = 5

    /// Delivers `message` into `user`'s `new/`, creating the Maildir if needed.
    ///
    /// The message is written to `tmp/<unique>`, fsynced and closed (maildir(5), NFS-writing),
    /// then linked to `new/<unique>,S=<size>,W=<crlf size>` and the `tmp/` name removed;
    /// finally `new/` is fsynced. `S` is the stored size and `W` the size with CRLF line ends,
    /// as Dovecot writes them. Returns the new file's name. The caller checks that the user
    /// exists (the store cannot know accounts).
    public func deliver(user: String, message: [UInt8]) async throws -> String {
        let root = RawPath(try self.maildirPath(for: user))
        let hostname = self.hostname
        return try await BlockingIO.run {
            try Self.createMaildir(root)
            let virtualSize = CRLFSizeCounter.size(of: message)
            for _ in 0..<Self.deliveryAttempts {
                let unique = MaildirUniqueName.generate(host: hostname)
                let temporary = root.appending("tmp").appending(unique)
                guard try Posix.status(temporary) == nil else { continue }
                try Posix.writeNewFile(temporary, message)
                let name = MaildirFilename(unique: unique, size: message.count, virtualSize: virtualSize).description
                let destination = root.appending("new").appending(name)
                if try Self.moveIntoPlace(temporary, destination) {
                    try Posix.syncDirectory(root.appending("new"))
                    return name
                }
            }
            throw MailStoreError.io("no unique name for a delivery after \(Self.deliveryAttempts) attempts")
        }
    }

    /// Links `temporary` to `destination` and removes `temporary`. Returns `false` (having
    /// removed `temporary`) if `destination` exists. File systems without hard links get a
    /// rename after checking that `destination` is free.
    private static func moveIntoPlace(_ temporary: RawPath, _ destination: RawPath) throws -> Bool {
        switch Posix.hardLink(temporary, to: destination) {
        case nil:
            try Posix.removeFile(temporary)
            return true
        case EEXIST:
            try Posix.removeFile(temporary)
            return false
        case EPERM, EOPNOTSUPP, ENOSYS, EMLINK, EXDEV:
            guard try Posix.status(destination) == nil else {
                try Posix.removeFile(temporary)
                return false
            }
            try Posix.renameFile(temporary, to: destination)
            return true
        case let code?:
            let error = Posix.failure("link", destination, code)
            _ = try? Posix.removeFile(temporary)
            throw error
        }
    }
}
