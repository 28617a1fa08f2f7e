/// Maildir and Maildir++ layout facts (the `maildir(5)` page; Courier's and Dovecot's
/// Maildir++ folders are subdirectories named `.Folder`).
public enum Maildir {
    /// The subdirectories holding delivered mail.
    static let mailSubdirectories = ["new", "cur"]

    /// The unique name of a message file: the file name up to the `:` that starts the info
    /// (`:2,FLAGS`), which changes when flags change.
    public static func uniqueName(_ fileName: String) -> String {
        let base = fileName.split(separator: "/").last.map(String.init) ?? fileName
        guard let colon = base.firstIndex(of: ":") else { return base }
        return String(base[..<colon])
    }

    /// Maildir++ folder name from user input: `INBOX`, `` and `.` mean the root; a leading dot
    /// is optional (`Sent` and `.Sent` are the same folder).
    public static func normalisedFolder(_ name: String) -> String {
        var folder = name
        if folder.hasPrefix(".") { folder.removeFirst() }
        if folder.isEmpty || folder.uppercased() == "INBOX" { return "" }
        return folder
    }

    /// The directory of a folder (`""` is the root).
    static func path(root: String, folder: String) -> String {
        folder.isEmpty ? root : FileSystem.join(root, "." + folder)
    }

    /// True when `path` has `cur/` or `new/`.
    static func looksLikeMaildir(_ path: String) -> Bool {
        mailSubdirectories.contains { FileSystem.status(FileSystem.join(path, $0))?.isDirectory == true }
    }

    /// The root (`""`) and every Maildir++ folder (`.Name` directories holding a Maildir).
    static func folders(root: String) -> [String] {
        var result = [""]
        let names = (try? FileSystem.listAll(root)) ?? []
        for name in names.sorted() where name.hasPrefix(".") && name.count > 1 && name != ".." {
            let path = FileSystem.join(root, name)
            guard FileSystem.status(path)?.isDirectory == true, looksLikeMaildir(path) else { continue }
            result.append(String(name.dropFirst()))
        }
        return result
    }

    /// The content digest key of a stored message: its unique name, prefixed with the folder
    /// outside the root so copies in two folders stay distinct.
    static func digestKey(folder: String, uniqueName: String) -> String {
        folder.isEmpty ? uniqueName : folder + "/" + uniqueName
    }
}
