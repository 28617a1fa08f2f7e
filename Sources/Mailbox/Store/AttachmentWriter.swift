import FileIO
import SystemPackage

/// Saves attachments into one directory, never outside it.
public enum AttachmentWriter {
    /// Writes each attachment as `directory/safe-name` (see
    /// ``AttachmentNames/safeFileName(_:)``), never replacing a file: a taken name becomes
    /// `name (1).ext`, `name (2).ext`, … Files are created with `O_EXCL | O_NOFOLLOW`, so a
    /// planted symlink is not followed. Creates `directory` if needed. Returns the paths written.
    public static func save(_ attachments: [Attachment], to directory: String) throws -> [String] {
        try FileSystem.createDirectories(FilePath(directory), permissions: 0o755)
        var written: [String] = []
        for attachment in attachments {
            let base = AttachmentNames.safeFileName(attachment.filename)
            var number = 0
            while true {
                let name = number == 0 ? base : AttachmentNames.numbered(base, number)
                let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
                let file: File
                do {
                    file = try File.open(
                        FilePath(path),
                        .writeOnly,
                        options: [.create, .exclusiveCreate, .noFollow]
                    )
                } catch {
                    guard error.errno == .fileExists, number < 10_000 else { throw error }
                    number += 1
                    continue
                }
                defer { file.closeQuietly() }
                try file.write(attachment.data)
                written.append(path)
                break
            }
        }
        return written
    }
}
