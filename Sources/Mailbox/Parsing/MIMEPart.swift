/// A node of a message's MIME tree (RFC 2045, RFC 2046). The root node is the message.
public struct MIMEPart: Sendable {
    /// The part's own header (for the root, the message header).
    public var header: MessageHeader
    /// `Content-Type` (RFC 2045 §5); `text/plain` when absent or unreadable (RFC 2045 §5.2),
    /// `message/rfc822` inside `multipart/digest` (RFC 2046 §5.1.5).
    public var contentType: MIMEHeaderValue
    /// `Content-Disposition` (RFC 2183), when present.
    public var disposition: MIMEHeaderValue?
    /// `Content-Transfer-Encoding`, lowercased; `7bit` when absent (RFC 2045 §6.1).
    public var transferEncoding: String
    /// The body as stored, still transfer-encoded. For a multipart, everything after the header.
    public var body: ArraySlice<UInt8>
    /// The parts of a multipart, or the one root part of an embedded `message/rfc822`.
    public var children: [MIMEPart]

    /// `type/subtype`, lowercased.
    public var mediaType: String { contentType.value }

    /// True for `multipart/*` with a readable boundary and parsed children.
    public var isMultipart: Bool { mediaType.hasPrefix("multipart/") && !children.isEmpty }

    /// True for an embedded message (RFC 2046 §5.2.1) whose content was parsed into `children`.
    public var isEmbeddedMessage: Bool {
        (mediaType == "message/rfc822" || mediaType == "message/global") && children.count == 1
    }

    /// The body with its transfer encoding undone.
    public var decodedBody: [UInt8] { TransferEncoding.decode(body, encoding: transferEncoding) }

    /// The body as text: transfer encoding undone, charset converted, line ends made LF.
    public var text: String {
        var bytes = decodedBody
        bytes.removeAll { $0 == Byte.cr }
        return CharsetDecoder.decode(bytes, charset: contentType.parameters["charset"])
    }

    /// The file name the sender gave: `Content-Disposition` `filename` (RFC 2183 §2.3,
    /// RFC 2231), else `Content-Type` `name` (RFC 2046 §4.5.1, historical).
    public var declaredFilename: String? {
        for candidate in [disposition?.parameters["filename"], contentType.parameters["name"]] {
            if let name = candidate?.trimmingWhitespace(), !name.isEmpty { return name }
        }
        return nil
    }

    /// True when the sender marked the part `Content-Disposition: attachment`.
    public var isMarkedAttachment: Bool { disposition?.value == "attachment" }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
