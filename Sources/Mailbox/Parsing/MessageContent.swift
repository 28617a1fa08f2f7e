/// What a reader sees of a message: the body text and the attachments.
///
/// - `multipart/alternative` (RFC 2046 §5.1.4): the plain-text alternative is shown; when there
///   is none, the HTML one rendered as text. The other alternatives are neither text nor
///   attachments.
/// - `multipart/related` (RFC 2387): the root part is the body; the other parts are attachments.
/// - other multiparts: every inline text part is body text, in order; the rest are attachments.
/// - an embedded `message/rfc822` is an attachment (`subject.eml`).
public struct MessageContent: Sendable {
    /// The body text, HTML rendered as text, line ends LF.
    public var text: String
    /// True when the text came from HTML (there was no plain alternative).
    public var isRenderedHTML: Bool
    /// Attachments in tree order.
    public var attachments: [Attachment]

    init(root: MIMEPart) {
        var walker = Walker()
        walker.visit(root, depth: 0)
        self.text = walker.texts.joined(separator: "\n\n")
        self.isRenderedHTML = walker.usedHTML && !walker.usedPlain
        self.attachments = walker.attachments
    }
}

/// One attachment of a message.
public struct Attachment: Sendable {
    /// The name to show and save under: the sender's name decoded (RFC 2231, RFC 2047), or
    /// one made up from the position and type (`part-2.pdf`). Not sanitised: see
    /// ``AttachmentNames/safeFileName(_:)`` before writing it anywhere.
    public var filename: String
    /// True when `filename` came from the message.
    public var isNamedBySender: Bool
    /// `type/subtype`.
    public var mediaType: String
    /// The MIME part.
    public var part: MIMEPart

    /// The content with its transfer encoding undone; for an embedded message, the message.
    public var data: [UInt8] { part.decodedBody }
}

private struct Walker {
    var texts: [String] = []
    var attachments: [Attachment] = []
    var usedHTML = false
    var usedPlain = false

    mutating func visit(_ part: MIMEPart, depth: Int) {
        guard depth <= MessageParser.maximumDepth + 1 else { return }
        if part.isMultipart {
            switch part.mediaType {
            case "multipart/alternative":
                if let chosen = choose(among: part.children) { visit(chosen, depth: depth + 1) }
            case "multipart/related":
                let start = part.contentType.parameters["start"].map { $0.trimmingCharacters(in: "<> ") }
                let rootIndex =
                    part.children.firstIndex { child in
                        guard let start, let id = child.header["Content-ID"] else { return false }
                        return id.trimmingCharacters(in: "<> ") == start
                    } ?? 0
                for (index, child) in part.children.enumerated() {
                    if index == rootIndex { visit(child, depth: depth + 1) } else { addAttachment(child) }
                }
            default:
                for child in part.children { visit(child, depth: depth + 1) }
            }
            return
        }
        if part.isEmbeddedMessage || part.mediaType.hasPrefix("message/") {
            addAttachment(part)
            return
        }
        if isInlineText(part) {
            if part.mediaType == "text/html" {
                usedHTML = true
                texts.append(HTMLText.render(part.text))
            } else {
                usedPlain = true
                texts.append(part.text.trimmingTrailingWhitespace())
            }
            return
        }
        addAttachment(part)
    }

    func isInlineText(_ part: MIMEPart) -> Bool {
        guard part.mediaType == "text/plain" || part.mediaType == "text/html" || part.mediaType == "text/enriched"
        else { return false }
        if part.isMarkedAttachment { return false }
        return part.declaredFilename == nil || part.disposition?.value == "inline"
    }

    /// RFC 2046 §5.1.4 orders alternatives by preference, the richest last; a text reader
    /// prefers plain text, then HTML, then the last one.
    func choose(among children: [MIMEPart]) -> MIMEPart? {
        if let plain = children.first(where: { contains($0, "text/plain") }) { return plain }
        if let html = children.last(where: { contains($0, "text/html") }) { return html }
        return children.last
    }

    func contains(_ part: MIMEPart, _ type: String, depth: Int = 0) -> Bool {
        guard depth < 8 else { return false }
        if part.isMultipart { return part.children.contains { contains($0, type, depth: depth + 1) } }
        return part.mediaType == type && !part.isMarkedAttachment
    }

    mutating func addAttachment(_ part: MIMEPart) {
        if part.isMultipart {
            for child in part.children { addAttachment(child) }
            return
        }
        let position = attachments.count + 1
        if let name = part.declaredFilename {
            attachments.append(Attachment(filename: name, isNamedBySender: true, mediaType: part.mediaType, part: part))
            return
        }
        var name = "part-\(position)"
        if part.isEmbeddedMessage, let child = part.children.first {
            let subject = (child.header["Subject"] ?? "").collapsingWhitespace()
            if !subject.isEmpty { name = subject }
        }
        name += "." + AttachmentNames.fileExtension(for: part.mediaType)
        attachments.append(Attachment(filename: name, isNamedBySender: false, mediaType: part.mediaType, part: part))
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, set.unicodeScalars.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.unicodeScalars.contains(last) { scalars.removeLast() }
        return String(scalars)
    }

    func trimmingTrailingWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
