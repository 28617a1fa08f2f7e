/// Renders HTML mail as readable plain text: tags stripped, entities decoded, paragraphs
/// and line breaks kept, links shown as `text <url>`, scripts and styles dropped.
///
/// A single forward pass with no backtracking, so any input renders in linear time.
public enum HTMLText {
    public static func render(_ html: String) -> String {
        var renderer = Renderer(source: Array(html.unicodeScalars))
        return renderer.run()
    }
}

private struct Renderer {
    let source: [Unicode.Scalar]
    var index = 0
    var output = String.UnicodeScalarView()
    var pendingSpace = false
    var preformatted = 0
    var linkStack: [(href: String, textStart: Int)] = []

    init(source: [Unicode.Scalar]) {
        self.source = source
    }

    mutating func run() -> String {
        while index < source.count {
            let scalar = source[index]
            if scalar == "<" {
                readTag()
            } else if scalar == "&" {
                appendText(readEntity())
            } else {
                index += 1
                appendText(scalar)
            }
        }
        // Collapse runs of blank lines, drop trailing spaces, trim.
        var collapsed = String.UnicodeScalarView()
        var newlines = 0
        for scalar in output {
            if scalar == "\n" {
                while let last = collapsed.last, last == " " { collapsed.removeLast() }
                newlines += 1
                if newlines > 2 { continue }
            } else {
                newlines = 0
            }
            collapsed.append(scalar)
        }
        return String(collapsed).trimmingWhitespace()
    }

    mutating func appendText(_ scalar: Unicode.Scalar) {
        if preformatted > 0 {
            output.append(scalar)
            return
        }
        if scalar.properties.isWhitespace && scalar != "\u{A0}" {
            pendingSpace = true
            return
        }
        if pendingSpace, let last = output.last, last != "\n", last != " " { output.append(" ") }
        pendingSpace = false
        output.append(scalar == "\u{A0}" ? " " : scalar)
    }

    mutating func newline(_ count: Int) {
        pendingSpace = false
        while let last = output.last, last == " " { output.removeLast() }
        var existing = 0
        var cursor = output.endIndex
        while cursor > output.startIndex {
            let previous = output.index(before: cursor)
            guard output[previous] == "\n" else { break }
            existing += 1
            cursor = previous
        }
        if output.isEmpty { return }
        for _ in existing..<max(existing, count) { output.append("\n") }
    }

    /// Reads `<...>` (or a comment) at `index` and applies its effect.
    mutating func readTag() {
        let start = index
        if hasPrefix("<!--") {
            index += 4
            while index < source.count, !hasPrefix("-->") { index += 1 }
            index = min(source.count, index + 3)
            return
        }
        index += 1
        guard index < source.count,
            source[index] == "/" || source[index] == "!" || source[index].properties.isAlphabetic
        else {
            appendText("<")
            index = start + 1
            return
        }
        var inQuote: Unicode.Scalar?
        var body = String.UnicodeScalarView()
        while index < source.count {
            let scalar = source[index]
            index += 1
            if let quote = inQuote {
                if scalar == quote { inQuote = nil }
            } else if scalar == "\"" || scalar == "'" {
                inQuote = scalar
            } else if scalar == ">" {
                break
            }
            body.append(scalar)
        }
        apply(tag: String(body))
    }

    func hasPrefix(_ text: String) -> Bool {
        var offset = index
        for scalar in text.unicodeScalars {
            guard offset < source.count, source[offset].properties.lowercaseMapping == String(scalar) else {
                return false
            }
            offset += 1
        }
        return true
    }

    mutating func apply(tag body: String) {
        let closing = body.hasPrefix("/")
        let nameText = body.drop { $0 == "/" }.prefix { $0.isLetter || $0.isNumber }
        let name = nameText.lowercased()
        switch name {
        case "script", "style", "head", "title":
            if !closing { skipUntilClosing(name) }
        case "br":
            output.append("\n")
            pendingSpace = false
        case "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "hr", "section",
            "article", "header", "footer":
            newline(2)
        case "tr", "dt", "dd":
            newline(1)
        case "li":
            newline(1)
            if !closing { output.append(contentsOf: "- ".unicodeScalars) }
        case "td", "th":
            if closing { appendText(" ") }
        case "pre":
            newline(2)
            preformatted = max(0, preformatted + (closing ? -1 : 1))
        case "a":
            if closing {
                guard let link = linkStack.popLast() else { return }
                let text = String(
                    String.UnicodeScalarView(
                        output[output.index(output.startIndex, offsetBy: min(link.textStart, output.count))...]
                    )
                )
                if !link.href.isEmpty, !link.href.hasPrefix("#"), text.trimmingWhitespace() != link.href,
                    "mailto:" + text.trimmingWhitespace() != link.href
                {
                    output.append(contentsOf: " <\(link.href)>".unicodeScalars)
                }
            } else if linkStack.count < 32 {
                linkStack.append((attribute("href", in: body) ?? "", output.count))
            }
        case "img":
            if let alt = attribute("alt", in: body), !alt.isEmpty {
                for scalar in alt.unicodeScalars { appendText(scalar) }
            }
        default:
            break
        }
    }

    mutating func skipUntilClosing(_ name: String) {
        while index < source.count {
            if source[index] == "<", hasPrefix("</" + name) {
                while index < source.count, source[index] != ">" { index += 1 }
                index = min(source.count, index + 1)
                return
            }
            index += 1
        }
    }

    /// A tag attribute's value, entities decoded.
    func attribute(_ name: String, in body: String) -> String? {
        let characters = Array(body)
        let pattern = Array(name)
        var found: Int?
        var cursor = 0
        while cursor + pattern.count <= characters.count {
            let matches = (0..<pattern.count).allSatisfy { characters[cursor + $0].lowercased() == String(pattern[$0]) }
            let precededBySpace = cursor > 0 && characters[cursor - 1].isWhitespace
            if matches, precededBySpace {
                var after = cursor + pattern.count
                while after < characters.count, characters[after] == " " { after += 1 }
                if after < characters.count, characters[after] == "=" {
                    found = after + 1
                    break
                }
            }
            cursor += 1
        }
        guard let found else { return nil }
        var rest = String(characters[found...])[...].drop { $0 == " " }
        var value: Substring
        if let quote = rest.first, quote == "\"" || quote == "'" {
            rest = rest.dropFirst()
            value = rest.prefix { $0 != quote }
        } else {
            value = rest.prefix { !$0.isWhitespace && $0 != ">" }
        }
        return HTMLEntities.decode(String(value)).trimmingWhitespace()
    }

    mutating func readEntity() -> Unicode.Scalar {
        let (scalar, length) = HTMLEntities.scalar(in: source, at: index)
        index += length
        return scalar
    }
}
