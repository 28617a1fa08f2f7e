/// Where a message is stored.
public enum MessageLocation: Sendable, Hashable {
    /// A Maildir file: folder (`""` for the root), `new` or `cur`, file name.
    case maildir(folder: String, subdirectory: String, fileName: String)
    /// A range of an mbox file, quoting included.
    case mbox(offset: Int, length: Int)
}

/// One message as `mail list` shows it, read from the index.
public struct MessageSummary: Sendable, Hashable {
    /// The short ID to type: the shortest prefix (at least 8) of `digest` that no other
    /// message shares.
    public var id: String
    /// SHA-256 (hex) of the Maildir unique name, or of the mbox message content.
    public var digest: String
    /// Maildir++ folder, `""` for the root (INBOX).
    public var folder: String
    /// Seconds since the epoch: the `Date` field, else `Received`, else the file time.
    public var date: Int64
    /// The `From` mailboxes, formatted and decoded.
    public var from: String
    /// The first sender's name, or address when there is no name.
    public var sender: String
    /// The `To`/`Cc` recipients, formatted and decoded.
    public var to: String
    /// The decoded subject.
    public var subject: String
    /// Octets as stored.
    public var size: Int
    /// Attachment file names, decoded (not sanitised).
    public var attachments: [String]
    /// Where the message is stored.
    public var location: MessageLocation
}

/// What indexing extracts from one message.
struct MessageRecord: Sendable {
    var digest: String
    var folder: String
    var location: MessageLocation
    var size: Int
    var date: Int64
    var from: String
    var sender: String
    var senderSearchText: String
    var to: String
    var subject: String
    var attachments: [String]
    var bodyText: String
    var defectCount: Int

    /// Longest body text put in the full-text index per message.
    static let maximumIndexedText = 256 * 1024

    init(digest: String, folder: String, location: MessageLocation, bytes: [UInt8], fallbackDate: Int64) {
        let message = MessageParser.parse(bytes)
        let content = message.content
        let from = message.from
        let recipients = message.recipients
        self.digest = digest
        self.folder = folder
        self.location = location
        self.size = bytes.count
        self.date = message.date ?? fallbackDate
        self.from = from.map(\.formatted).joined(separator: ", ")
        self.sender = from.first?.shortDisplay ?? ""
        self.senderSearchText = from.map { "\($0.name) \($0.address)" }.joined(separator: " ")
        self.to = recipients.map(\.formatted).joined(separator: ", ")
        self.subject = message.subject
        self.attachments = content.attachments.map(\.filename)
        var text = content.text
        if text.utf8.count > Self.maximumIndexedText {
            text = String(decoding: text.utf8.prefix(Self.maximumIndexedText), as: UTF8.self)
        }
        self.bodyText = text
        self.defectCount = message.defects.count
    }
}
