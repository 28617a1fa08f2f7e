/// HTML character references: named (the common subset mail uses) and numeric.
enum HTMLEntities {
    static let named: [String: UInt32] = [
        "amp": 0x26, "lt": 0x3C, "gt": 0x3E, "quot": 0x22, "apos": 0x27, "nbsp": 0xA0, "copy": 0xA9, "reg": 0xAE,
        "trade": 0x2122, "hellip": 0x2026, "mdash": 0x2014, "ndash": 0x2013, "lsquo": 0x2018, "rsquo": 0x2019,
        "ldquo": 0x201C, "rdquo": 0x201D, "sbquo": 0x201A, "bdquo": 0x201E, "laquo": 0xAB, "raquo": 0xBB,
        "euro": 0x20AC, "pound": 0xA3, "yen": 0xA5, "cent": 0xA2, "sect": 0xA7, "deg": 0xB0, "middot": 0xB7,
        "bull": 0x2022, "times": 0xD7, "divide": 0xF7, "plusmn": 0xB1, "para": 0xB6, "shy": 0xAD, "iexcl": 0xA1,
        "iquest": 0xBF, "zwnj": 0x200C, "zwj": 0x200D, "ensp": 0x2002, "emsp": 0x2003, "thinsp": 0x2009,
        "auml": 0xE4, "ouml": 0xF6, "uuml": 0xFC, "Auml": 0xC4, "Ouml": 0xD6, "Uuml": 0xDC, "szlig": 0xDF,
        "eacute": 0xE9, "egrave": 0xE8, "ecirc": 0xEA, "aacute": 0xE1, "agrave": 0xE0, "acirc": 0xE2,
        "iacute": 0xED, "oacute": 0xF3, "uacute": 0xFA, "ntilde": 0xF1, "ccedil": 0xE7, "Eacute": 0xC9,
        "aring": 0xE5, "Aring": 0xC5, "oslash": 0xF8, "Oslash": 0xD8, "aelig": 0xE6, "AElig": 0xC6,
        "rarr": 0x2192, "larr": 0x2190, "uarr": 0x2191, "darr": 0x2193, "hearts": 0x2665, "check": 0x2713,
    ]

    /// The character at `source[index]` (an `&`) and how many scalars it spans. A reference
    /// that does not parse is a literal `&` of length 1.
    static func scalar(in source: [Unicode.Scalar], at index: Int) -> (Unicode.Scalar, Int) {
        var cursor = index + 1
        var name = String.UnicodeScalarView()
        while cursor < source.count, cursor - index <= 32 {
            let scalar = source[cursor]
            if scalar == ";" { break }
            guard scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == "#" else { break }
            name.append(scalar)
            cursor += 1
        }
        let text = String(name)
        let terminated = cursor < source.count && source[cursor] == ";"
        let length = cursor - index + (terminated ? 1 : 0)
        if text.hasPrefix("#") {
            let digits = text.dropFirst()
            let value: UInt32?
            if let first = digits.first, first == "x" || first == "X" {
                value = UInt32(digits.dropFirst(), radix: 16)
            } else {
                value = UInt32(digits)
            }
            if let value, value != 0, let scalar = Unicode.Scalar(value) { return (scalar, length) }
            if value != nil { return ("\u{FFFD}", length) }
            return ("&", 1)
        }
        if let value = named[text], let scalar = Unicode.Scalar(value) { return (scalar, length) }
        return ("&", 1)
    }

    /// Decodes every reference in `text`.
    static func decode(_ text: String) -> String {
        let source = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var index = 0
        while index < source.count {
            if source[index] == "&" {
                let (scalar, length) = scalar(in: source, at: index)
                output.append(scalar)
                index += length
            } else {
                output.append(source[index])
                index += 1
            }
        }
        return String(output)
    }
}
