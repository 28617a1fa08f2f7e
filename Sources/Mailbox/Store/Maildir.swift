/// Maildir and Maildir++ layout facts (the `maildir(5)` page; Courier's and Dovecot's
/// Maildir++ folders are subdirectories named `.Folder`).
public enum Maildir {
    /// The subdirectories holding delivered mail.
    static let mailSubdirectories = ["new", "cur"]

    /// The unique name of a message file: the file name up to the `:` that starts the info
    /// (`:2,FLAGS`), which changes when flags change.
    public static func uniqueName(_ fileName: String) -> String {
        var view = Substring(fileName).utf8
        if let slash = view.lastIndex(of: UInt8(ascii: "/")) { view = view[view.index(after: slash)...] }
        if let colon = view.firstIndex(of: UInt8(ascii: ":")) { view = view[..<colon] }
        return String(Substring(view))
    }

    /// The file size a name records (`,S=1234`, Dovecot's convention), if any. Runs once per
    /// file on every directory comparison, so it scans bytes without allocating.
    static func sizeInName(_ fileName: String) -> Int? {
        var matched = 0  // how much of ",S=" has been seen
        var value: Int?
        for byte in fileName.utf8 {
            if byte == UInt8(ascii: ":") { break }
            if let current = value {
                guard byte >= 0x30, byte <= 0x39, current < 1 << 50 else { return current }
                value = current * 10 + Int(byte - 0x30)
                continue
            }
            switch (matched, byte) {
            case (_, UInt8(ascii: ",")): matched = 1
            case (1, UInt8(ascii: "S")): matched = 2
            case (2, UInt8(ascii: "=")): value = 0
            default: matched = 0
            }
        }
        return value
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
