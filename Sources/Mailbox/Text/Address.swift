/// A mailbox from an address header (RFC 5322 §3.4): an optional display name and an
/// address.
public struct Address: Sendable, Hashable, Codable {
    /// The display name, RFC 2047 decoded; empty when none was given.
    public var name: String
    /// The addr-spec (`local@domain`), as written.
    public var address: String

    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }

    /// `Name <address>`, or the bare address when there is no name.
    public var formatted: String {
        if name.isEmpty { return address }
        if address.isEmpty { return name }
        return "\(name) <\(address)>"
    }

    /// The name when there is one, else the address: what a list column shows.
    public var shortDisplay: String { name.isEmpty ? address : name }

    /// Parses an address-list header value as stored (before RFC 2047 decoding, so encoded
    /// commas in names do not split mailboxes). Groups (RFC 5322 §3.4) are flattened.
    /// Never fails; unreadable text becomes a mailbox whose address is that text.
    public static func parseList(_ raw: some Collection<UInt8>) -> [Address] {
        var scanner = AddressScanner(bytes: ArraySlice(raw))
        return scanner.parse()
    }
}

private struct AddressScanner {
    let bytes: ArraySlice<UInt8>
    var index: Int
    var results: [Address] = []
    // The mailbox being read.
    var phrase: [UInt8] = []
    var angle: [UInt8]?
    var comment: [UInt8] = []

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    mutating func parse() -> [Address] {
        while index < bytes.endIndex, results.count < 1000 {
            let byte = bytes[index]
            switch byte {
            case Byte.quote:
                index += 1
                appendSeparatorIfNeeded()
                while index < bytes.endIndex, bytes[index] != Byte.quote {
                    if bytes[index] == Byte.backslash, index + 1 < bytes.endIndex { index += 1 }
                    if bytes[index] != Byte.cr && bytes[index] != Byte.lf { phrase.append(bytes[index]) }
                    index += 1
                }
                index += 1
            case Byte.openParen:
                readComment()
            case Byte.lessThan:
                index += 1
                var address: [UInt8] = []
                while index < bytes.endIndex, bytes[index] != Byte.greaterThan {
                    if !bytes[index].isWhitespace { address.append(bytes[index]) }
                    index += 1
                }
                index += 1
                angle = address
            case Byte.comma, Byte.semicolon:
                finishMailbox()
                index += 1
            case Byte.colon where angle == nil:
                // A group name (RFC 5322 §3.4) is not a mailbox.
                phrase.removeAll()
                index += 1
            default:
                if byte.isWhitespace {
                    if !phrase.isEmpty, phrase.last != Byte.space { phrase.append(Byte.space) }
                } else {
                    phrase.append(byte)
                }
                index += 1
            }
        }
        finishMailbox()
        return results
    }

    mutating func appendSeparatorIfNeeded() {
        if !phrase.isEmpty, phrase.last != Byte.space { phrase.append(Byte.space) }
    }

    mutating func readComment() {
        var depth = 0
        var text: [UInt8] = []
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            if byte == Byte.backslash, index < bytes.endIndex {
                text.append(bytes[index])
                index += 1
                continue
            }
            if byte == Byte.openParen {
                depth += 1
                if depth == 1 { continue }
            } else if byte == Byte.closeParen {
                depth -= 1
                if depth == 0 { break }
            }
            text.append(byte)
        }
        if comment.isEmpty { comment = text }
    }

    mutating func finishMailbox() {
        defer {
            phrase.removeAll()
            angle = nil
            comment.removeAll()
        }
        let phraseText = EncodedWordDecoder.decode(Bytes.trimmed(phrase[...])).trimmingWhitespace()
        if let angle {
            let address = String(decoding: angle, as: UTF8.self)
            guard !address.isEmpty || !phraseText.isEmpty else { return }
            results.append(Address(name: phraseText, address: address))
        } else if !phraseText.isEmpty {
            // A bare addr-spec; a comment after it was the old way to give a name.
            let address = phraseText.split(whereSeparator: \.isWhitespace).joined()
            let name = EncodedWordDecoder.decode(comment).trimmingWhitespace()
            results.append(Address(name: name, address: address))
        }
    }
}
