/// Parses RFC 5322 messages and their MIME structure (RFC 2045, RFC 2046) without ever
/// failing: malformed input yields the best reading plus a list of defects.
///
/// Work is linear in the input for each nesting level, and nesting and part counts are capped,
/// so hostile input cannot make it hang or exhaust memory.
public enum MessageParser {
    /// Deepest nesting of multiparts and embedded messages that is parsed; deeper content is
    /// kept as an opaque leaf.
    public static let maximumDepth = 24
    /// Most MIME parts parsed in one message; the rest are kept inside their parent's body.
    public static let maximumPartCount = 2000

    /// Parses a whole message as stored (LF or CRLF line ends; a leading mbox `From ` line is
    /// ignored).
    public static func parse(_ bytes: [UInt8]) -> Message {
        var state = State()
        let root = parsePart(bytes[...], depth: 0, defaultType: "text/plain", state: &state)
        return Message(root: root, size: bytes.count, defects: state.defects)
    }

    struct State {
        var partCount = 0
        var defects: [String] = []

        mutating func note(_ defect: String) {
            if defects.count < 100 { defects.append(defect) }
        }
    }

    static func parsePart(
        _ bytes: ArraySlice<UInt8>,
        depth: Int,
        defaultType: String,
        state: inout State
    ) -> MIMEPart {
        state.partCount += 1
        let parsed = HeaderParser.parse(bytes)
        for defect in parsed.defects { state.note(defect) }
        let header = parsed.header
        let body = bytes[parsed.bodyStart...]

        var contentType = MIMEHeaderValue(value: defaultType)
        if let field = header.first("Content-Type") {
            let candidate = MIMEHeaderValue.parse(field.rawValue)
            if isMediaType(candidate.value) {
                contentType = candidate
            } else {
                // RFC 2045 §5.2: an unreadable Content-Type means text/plain; us-ascii.
                state.note("unreadable Content-Type")
                contentType = MIMEHeaderValue(value: "text/plain", parameters: candidate.parameters)
            }
        }
        let disposition = header.first("Content-Disposition").map { MIMEHeaderValue.parse($0.rawValue) }
        let encoding = header.first("Content-Transfer-Encoding").map {
            Bytes.lowercaseASCII(Bytes.trimmed($0.rawValue[...]))
        }
        var part = MIMEPart(
            header: header,
            contentType: contentType,
            disposition: disposition,
            transferEncoding: encoding.flatMap { $0.isEmpty ? nil : $0 } ?? "7bit",
            body: body,
            children: []
        )

        guard depth < maximumDepth else {
            if contentType.value.hasPrefix("multipart/") || contentType.value.hasPrefix("message/") {
                state.note("nesting deeper than \(maximumDepth); kept as an opaque part")
            }
            return part
        }
        if contentType.value.hasPrefix("multipart/") {
            guard let boundary = contentType.parameters["boundary"], !boundary.isEmpty else {
                state.note("multipart without a boundary")
                return part
            }
            let childDefault = contentType.value == "multipart/digest" ? "message/rfc822" : "text/plain"
            for slice in MultipartSplitter.split(body, boundary: Array(boundary.utf8), state: &state) {
                guard state.partCount < maximumPartCount else {
                    state.note("more than \(maximumPartCount) parts; the rest are not parsed")
                    break
                }
                part.children.append(parsePart(slice, depth: depth + 1, defaultType: childDefault, state: &state))
            }
        } else if contentType.value == "message/rfc822" || contentType.value == "message/global" {
            // RFC 2046 §5.2.1 allows only identity encodings here; decode anyway if not.
            let content: ArraySlice<UInt8> =
                part.transferEncoding == "base64" || part.transferEncoding == "quoted-printable"
                ? part.decodedBody[...] : body
            if !Bytes.trimmed(content).isEmpty, state.partCount < maximumPartCount {
                part.children = [parsePart(content, depth: depth + 1, defaultType: "text/plain", state: &state)]
            }
        }
        return part
    }

    /// `type/subtype` with non-empty token halves.
    private static func isMediaType(_ value: String) -> Bool {
        let halves = value.split(separator: "/", omittingEmptySubsequences: false)
        return halves.count == 2 && !halves[0].isEmpty && !halves[1].isEmpty
    }
}

/// Splits a multipart body at its delimiter lines (RFC 2046 §5.1.1).
enum MultipartSplitter {
    /// The body parts between `--boundary` lines. Preamble and epilogue are dropped. A line
    /// counts as a delimiter when `--boundary` (or the closing `--boundary--`) is followed only
    /// by whitespace (transport padding). The line end before a delimiter belongs to it. A
    /// missing closing delimiter ends the last part at the end of the body.
    static func split(
        _ body: ArraySlice<UInt8>,
        boundary: [UInt8],
        state: inout MessageParser.State
    ) -> [ArraySlice<UInt8>] {
        let marker: [UInt8] = [Byte.hyphen, Byte.hyphen] + boundary
        var parts: [ArraySlice<UInt8>] = []
        var partStart: Int?
        var lineStart = body.startIndex
        let end = body.endIndex
        var closed = false
        while lineStart < end {
            let lineFeed = Bytes.lineFeed(in: body, from: lineStart)
            if body[lineStart] == Byte.hyphen, let isClosing = delimiter(body, at: lineStart, to: lineFeed, marker) {
                if let start = partStart {
                    var contentEnd = lineStart
                    if contentEnd > start, body[contentEnd - 1] == Byte.lf { contentEnd -= 1 }
                    if contentEnd > start, body[contentEnd - 1] == Byte.cr { contentEnd -= 1 }
                    parts.append(body[start..<max(start, contentEnd)])
                }
                if isClosing {
                    closed = true
                    partStart = nil
                    break
                }
                partStart = min(end, lineFeed + 1)
            }
            lineStart = lineFeed + 1
        }
        if !closed {
            state.note("multipart without a closing delimiter")
            if let start = partStart { parts.append(body[start..<end]) }
        }
        if parts.isEmpty { state.note("multipart without body parts") }
        return parts
    }

    /// Nil when the line is not a delimiter, else whether it is the closing one.
    private static func delimiter(_ body: ArraySlice<UInt8>, at start: Int, to lineEnd: Int, _ marker: [UInt8]) -> Bool?
    {
        guard lineEnd - start >= marker.count else { return nil }
        for offset in 0..<marker.count where body[start + offset] != marker[offset] { return nil }
        var cursor = start + marker.count
        var closing = false
        if cursor + 1 < lineEnd, body[cursor] == Byte.hyphen, body[cursor + 1] == Byte.hyphen {
            closing = true
            cursor += 2
        }
        while cursor < lineEnd {
            if !body[cursor].isWhitespace { return nil }
            cursor += 1
        }
        return closing
    }
}
