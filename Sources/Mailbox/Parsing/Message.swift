/// A parsed message: its MIME tree plus the readings the mailbox needs.
public struct Message: Sendable {
    /// The root of the MIME tree; its header is the message header.
    public var root: MIMEPart
    /// Octets as stored.
    public var size: Int
    /// What the parser had to work around, for `mail verify`. Empty for well-formed mail.
    public var defects: [String]

    /// The message header (RFC 5322 §3.6).
    public var header: MessageHeader { root.header }

    /// `Subject`, decoded, folding whitespace collapsed.
    public var subject: String { (header["Subject"] ?? "").collapsingWhitespace() }

    /// `From` mailboxes (RFC 5322 §3.6.2); `Sender` when From is absent.
    public var from: [Address] {
        let list = header.first("From").map { Address.parseList($0.rawValue) } ?? []
        if !list.isEmpty { return list }
        return header.first("Sender").map { Address.parseList($0.rawValue) } ?? []
    }

    /// `To`, `Cc` and `Bcc` recipients, in that order (RFC 5322 §3.6.3).
    public var recipients: [Address] {
        ["To", "Cc", "Bcc"].flatMap { name in header.all(name).flatMap { Address.parseList($0.rawValue) } }
    }

    /// `To` recipients only.
    public var to: [Address] { header.all("To").flatMap { Address.parseList($0.rawValue) } }

    /// The `Date` field as seconds since the epoch (RFC 5322 §3.6.1); else the date of the
    /// newest `Received` field (RFC 5322 §3.6.7); nil when neither reads.
    public var date: Int64? {
        if let value = header["Date"], let seconds = MessageDate.parse(value) { return seconds }
        for field in header.all("Received") {
            let value = field.value
            if let semicolon = value.lastIndex(of: ";"),
                let seconds = MessageDate.parse(String(value[semicolon...].dropFirst()))
            {
                return seconds
            }
        }
        return nil
    }

    /// The readable text and the attachments, worked out together from the MIME tree.
    public var content: MessageContent { MessageContent(root: root) }
}

extension String {
    /// Runs of whitespace (including line breaks) become one space; ends trimmed.
    func collapsingWhitespace() -> String {
        var result = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !result.isEmpty
            } else {
                if pendingSpace { result.append(" ") }
                pendingSpace = false
                result.append(scalar)
            }
        }
        return String(result)
    }
}
