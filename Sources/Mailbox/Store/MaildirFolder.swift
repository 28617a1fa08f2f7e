// The offline mailbox's view of a Maildir and its Maildir++ folders (Courier's and Dovecot's
// `.Folder` subdirectories). The layout itself, names and listing are MailStore's `Maildir`.

import FileIO
import MailStore

/// Maildir++ folders as the mail commands name them.
public enum MaildirFolder {
    /// Maildir++ folder name from user input: `INBOX`, `` and `.` mean the root; a leading dot
    /// is optional (`Sent` and `.Sent` are the same folder).
    public static func normalised(_ name: String) -> String {
        var folder = name
        if folder.hasPrefix(".") { folder.removeFirst() }
        if folder.isEmpty || folder.uppercased() == "INBOX" { return "" }
        return folder
    }

    /// The Maildir of a folder (`""` is the root).
    static func maildir(root: String, folder: String) -> Maildir {
        Maildir(path: root).folder(folder)
    }

    /// The root (`""`) and every Maildir++ folder, sorted.
    static func all(root: String) -> [String] {
        [""] + ((try? Maildir(path: root).folderNames()) ?? [])
    }

    /// The unique name of a message file given by name or relative path: the file name without
    /// its directories and without the info (`:2,FLAGS`), which changes when flags change.
    static func uniqueName(_ fileName: String) -> String {
        let last = fileName.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? fileName
        guard let name = MaildirFilename(parsing: last) else { return last }
        return String(decoding: name.baseName, as: UTF8.self)
    }

    /// The content digest key of a stored message: its unique name, prefixed with the folder
    /// outside the root so copies in two folders stay distinct.
    static func digestKey(folder: String, uniqueName: String) -> String {
        folder.isEmpty ? uniqueName : folder + "/" + uniqueName
    }
}
