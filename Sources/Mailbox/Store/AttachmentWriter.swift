#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Saves attachments into one directory, never outside it.
public enum AttachmentWriter {
    /// Writes each attachment as `directory/safe-name` (see
    /// ``AttachmentNames/safeFileName(_:)``), never replacing a file: a taken name becomes
    /// `name (1).ext`, `name (2).ext`, … Files are created with `O_EXCL | O_NOFOLLOW`, so a
    /// planted symlink is not followed. Creates `directory` if needed. Returns the paths written.
    public static func save(_ attachments: [Attachment], to directory: String) throws -> [String] {
        try makeDirectories(directory)
        var written: [String] = []
        for attachment in attachments {
            let base = AttachmentNames.safeFileName(attachment.filename)
            var number = 0
            while true {
                let name = number == 0 ? base : AttachmentNames.numbered(base, number)
                let path = FileSystem.join(directory, name)
                let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                if descriptor < 0 {
                    let code = errno
                    if code == EEXIST, number < 10_000 {
                        number += 1
                        continue
                    }
                    throw FileSystemError(path: path, operation: "create", code: code)
                }
                defer { close(descriptor) }
                try FileSystem.writeAll(descriptor, attachment.data, path: path)
                written.append(path)
                break
            }
        }
        return written
    }

    static func makeDirectories(_ path: String) throws {
        if FileSystem.status(path)?.isDirectory == true { return }
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0, errno != EEXIST {
                throw FileSystemError(path: current, operation: "create directory", code: errno)
            }
        }
    }
}
