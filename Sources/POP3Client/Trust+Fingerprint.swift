// The fingerprint text users copy from error messages, back into bytes.

extension POP3ClientConfiguration.Trust {
    /// Parses a SHA-256 fingerprint as this client prints it (`SHA256:AB:CD:...`), or as 64 hex
    /// digits with or without `:` separators and the `SHA256:` prefix; case and spaces do not matter.
    /// Returns nil for anything that is not exactly 32 bytes.
    public static func fingerprint(parsing text: String) -> Self? {
        var hex = Substring(text.filter { $0 != " " })
        if hex.uppercased().hasPrefix("SHA256:") { hex = hex.dropFirst(7) }
        let digits = hex.filter { $0 != ":" }
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return .fingerprint(bytes)
    }
}
