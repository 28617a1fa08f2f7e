// Targets for the files PostOffice reads that someone else wrote: the passwd-file (Accounts),
// Maildir file names (MailStore), the TOML configuration and other clients' state files
// (FileFormats), and the messages themselves (Mailbox's RFC 5322 / MIME parser).

import Accounts
import FileFormats
import MailCore
import MailStore
import Mailbox

enum FileTargets {
    /// The passwd-file parser, and the stored-password fields it yields (scheme prefixes,
    /// SCRAM-SHA-256 key records). Passwords are not verified: that is hashing, not parsing.
    static func passwdFile(_ data: [UInt8]) {
        let file = PasswdFile(parsing: String(decoding: data, as: UTF8.self))
        for (user, entry) in file.entries {
            check(user == entry.user, "entry \(entry.user) filed under \(user)")
            check(UserName.isValid(user), "an invalid user name was accepted")
            _ = entry.password.scramCredentials
            _ = entry.password.plaintext
            _ = entry.password.fieldValue
        }
    }

    /// A Maildir file name (maildir(5), Dovecot's `,S=` and `,W=`): every field read, and the
    /// name prints back as it was read.
    static func maildirFilename(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        guard let name = MaildirFilename(parsing: text) else { return }
        check(name.description == text, "\(text) prints as \(name.description)")
        check(MaildirFilename(parsing: name.description) == name, "\(text) does not parse back to itself")
        _ = name.uniquePart.count
        _ = name.flags?.count
        _ = name.host?.count
        _ = name.deliveryIdentifier?.count
        _ = (name.size, name.virtualSize, name.seconds, name.microseconds, name.processID, name.deliveryCount)
        if let size = name.size { check(size >= 0, "negative size \(size) in \(text)") }
        if let size = name.virtualSize { check(size >= 0, "negative virtual size \(size) in \(text)") }
    }

    /// The TOML reader: a document parses or is refused with a line number inside the text.
    static func toml(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        do {
            _ = try TOML.parse(text)
        } catch {
            let lineCount = text.utf8.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            check(error.line >= 1 && error.line <= lineCount, "error line \(error.line) of \(lineCount): \(error)")
        }
    }

    /// The message parser and everything the mailbox reads from a message: header fields,
    /// addresses, date, text (HTML rendered), attachments decoded and their names made safe.
    static func mime(_ data: [UInt8]) {
        let message = MessageParser.parse(data)
        check(message.size == data.count, "size \(message.size) of \(data.count) bytes")
        _ = message.subject
        _ = message.from
        _ = message.recipients
        _ = message.date
        let content = message.content
        _ = content.text
        for attachment in content.attachments {
            _ = attachment.data
            let safe = AttachmentNames.safeFileName(attachment.filename)
            check(!safe.isEmpty && !safe.contains("/") && !safe.hasPrefix("."), "unsafe file name \(safe)")
            check(!safe.unicodeScalars.contains { $0.value < 0x20 }, "control character in file name \(safe)")
            check(safe.utf8.count <= AttachmentNames.maximumLength, "file name of \(safe.utf8.count) bytes")
        }
    }

    /// `--import-state` files: the format guess, and each format's reader for the account
    /// alice at pop.example.org. Every unique id read must be a valid UIDL (RFC 1939 §7).
    static func stateImport(_ data: [UInt8]) {
        _ = StateFileFormat.recognise(data)
        for format in StateFileFormat.allCases {
            for entry in format.parse(data, user: "alice", host: "pop.example.org", now: 1_700_000_000) {
                let uid = entry.uniqueID.rawValue.utf8
                check(!uid.isEmpty && uid.count <= 70, "\(format): a uid of \(uid.count) bytes")
                check(uid.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }, "\(format): uid \(entry.uniqueID)")
            }
        }
    }
}
