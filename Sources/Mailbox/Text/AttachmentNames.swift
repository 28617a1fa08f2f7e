/// Turning attachment names chosen by strangers into safe local file names.
public enum AttachmentNames {
    /// Longest file name written, in UTF-8 octets (the usual `NAME_MAX`).
    public static let maximumLength = 255

    /// A name that is a single, ordinary path component whatever `name` says: path separators
    /// become `_`; NUL and control characters are dropped; leading dots and surrounding
    /// whitespace are removed (so no `.`, `..` or hidden files); empty results become
    /// `attachment`; long names are shortened keeping the extension.
    public static func safeFileName(_ name: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in name.unicodeScalars {
            switch scalar.value {
            case 0x2F, 0x5C: scalars.append("_")
            case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF: continue
            default: scalars.append(scalar)
            }
        }
        var result = String(scalars).trimmingWhitespace()
        while result.hasPrefix(".") || result.hasPrefix(" ") || result.hasPrefix("-") { result.removeFirst() }
        result = result.trimmingWhitespace()
        if result.isEmpty { return "attachment" }
        if result.utf8.count > maximumLength {
            let (stem, ext) = split(result)
            let keep = ext.utf8.count > 32 ? "" : ext
            var shortened = stem
            while shortened.utf8.count + keep.utf8.count > maximumLength { shortened.removeLast() }
            result = shortened + keep
        }
        return result
    }

    /// The `n`th alternative for a taken name: `name (n).ext`.
    public static func numbered(_ name: String, _ number: Int) -> String {
        let (stem, ext) = split(name)
        let suffix = " (\(number))"
        var shortened = stem
        while shortened.utf8.count + suffix.utf8.count + ext.utf8.count > maximumLength, !shortened.isEmpty {
            shortened.removeLast()
        }
        return shortened + suffix + ext
    }

    /// `("report", ".pdf")`; a name without a dot (or only a leading one) has no extension.
    static func split(_ name: String) -> (String, String) {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return (name, "") }
        return (String(name[..<dot]), String(name[dot...]))
    }

    /// A file extension for a media type, for attachments without a name.
    public static func fileExtension(for mediaType: String) -> String {
        switch mediaType {
        case "text/plain": return "txt"
        case "text/html": return "html"
        case "text/calendar": return "ics"
        case "text/csv": return "csv"
        case "text/x-vcard", "text/vcard": return "vcf"
        case "application/pdf": return "pdf"
        case "application/zip": return "zip"
        case "application/json": return "json"
        case "application/pgp-signature": return "asc"
        case "application/pkcs7-signature", "application/x-pkcs7-signature": return "p7s"
        case "image/png": return "png"
        case "image/jpeg", "image/jpg": return "jpg"
        case "image/gif": return "gif"
        case "image/webp": return "webp"
        case "image/svg+xml": return "svg"
        case "message/rfc822", "message/global": return "eml"
        case "audio/mpeg": return "mp3"
        case "video/mp4": return "mp4"
        default: return mediaType.hasPrefix("text/") ? "txt" : "bin"
        }
    }
}
