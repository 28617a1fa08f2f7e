// The UIDLs Dovecot and Courier gave the messages of a Maildir they served, read from the files
// they keep in its root, so that POP3 clients that leave mail on the server do not download it
// all again after a migration (issue 9; RFC 1939 §7: a unique-id stays the same across sessions).

import FileIO
import SystemPackage

/// The unique-ids earlier POP3 servers gave this Maildir's messages, by base name.
///
/// - **Dovecot**, `dovecot-uidlist` (versions 1 and 3): a header with the UIDVALIDITY
///   (`3 V<validity> N<next uid> G<guid> …`, or `1 <validity> <next uid>`), then one line per
///   message, `<uid> [<ext> …] :<file name>` (version 1: `<uid> <file name>`). Dovecot's POP3
///   UIDL is its default `pop3_uidl_format`, `%08Xu%08Xv`: the UID and then the UIDVALIDITY as 8
///   hex digits each, in lower case as Dovecot sends them, unless a `P<uidl>` extension field
///   records the UIDL the message was served with (Dovecot's `pop3_save_uidl`, or a migration
///   into Dovecot).
/// - **Courier**, `courierpop3dsizelist` (versions 2 and 3): a header `/<version> <next uid>
///   <uidv>`, then `<file name> <size> <uid>:<uidv>[:<utf8>]` per message. Courier's UIDL is
///   `UID<uid>-<uidv>` (`UID<uid>` when uidv is 0), or, for uid 0, the base name with bytes outside
///   0x21–0x7E and `'`, `"`, `+` written `+XX` in hex.
///
/// File names are matched by base name (up to the first `:`): the flags a file name carries
/// change, its base name does not. A line that is not well formed is skipped, and a file that
/// is missing, unreadable, larger than ``maximumFileSize`` or has an unknown header gives
/// nothing: the messages then get PostOffice's own unique-ids. Neither file is ever written:
/// they stay as their server left them, so their UIDLs never change; messages they do not list
/// (delivered later) get PostOffice's own.
enum InheritedUIDLs {
    static let dovecotFileName = "dovecot-uidlist"
    static let courierFileName = "courierpop3dsizelist"
    /// Both, as the store stats them to know whether they changed since it read them.
    static let fileNames = [courierFileName, dovecotFileName]
    /// Larger files are not read (about 600,000 messages): a limit on memory, like the size
    /// cache's.
    static let maximumFileSize = 64 * 1024 * 1024

    /// The inherited unique-ids of `maildir`'s messages: Dovecot's, then Courier's for the
    /// messages Dovecot's file does not list (a Maildir Courier served, then Dovecot). Empty when
    /// neither file exists, the common case, at the cost of two failed opens.
    static func load(_ maildir: Maildir) -> [ArraySlice<UInt8>: String] {
        func read(_ name: String) -> [UInt8]? {
            let path = maildir.root.appending(name)
            return (try? FileSystem.readFileIfExists(path, limit: Self.maximumFileSize))?.bytes
        }
        var ids = read(Self.courierFileName).map(Self.parseCourier) ?? [:]
        if let dovecot = read(Self.dovecotFileName) {
            ids.merge(Self.parseDovecot(dovecot)) { _, dovecot in dovecot }
        }
        return ids
    }

    // MARK: Dovecot

    /// Parses a `dovecot-uidlist`.
    static func parseDovecot(_ bytes: [UInt8]) -> [ArraySlice<UInt8>: String] {
        var lines = Self.lines(bytes)
        guard let header = lines.next() else { return [:] }
        let fields = header.split(separator: UInt8(ascii: " "))
        let validity: UInt64
        let version: Int
        switch fields.first.map({ String(decoding: $0, as: UTF8.self) }) {
        case "3"?:
            // Version 3: letter-keyed fields in any order.
            guard let field = fields.dropFirst().first(where: { $0.first == UInt8(ascii: "V") }),
                let value = Self.uint32(field.dropFirst())
            else { return [:] }
            version = 3
            validity = value
        case "1"?:
            guard fields.count >= 2, let value = Self.uint32(fields[1]) else { return [:] }
            version = 1
            validity = value
        default:
            return [:]
        }
        var ids: [ArraySlice<UInt8>: String] = [:]
        while let line = lines.next() {
            guard let (uid, popUIDL, name) = Self.parseDovecotLine(line, version: version) else { continue }
            let baseName = Self.baseName(name)
            guard !baseName.isEmpty else { continue }
            ids[baseName] = popUIDL ?? (Self.hex8(uid) + Self.hex8(validity))
        }
        return ids
    }

    /// `<uid> [<ext> …] :<name>` (version 3) or `<uid> <name>` (version 1): the UID, the `P`
    /// field's UIDL if any, and the file name.
    private static func parseDovecotLine(
        _ line: ArraySlice<UInt8>,
        version: Int
    ) -> (UInt64, String?, ArraySlice<UInt8>)? {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")), let uid = Self.uint32(line[..<space]), uid > 0
        else { return nil }
        var rest = line[(space + 1)...]
        guard version == 3 else { return (uid, nil, rest) }
        var popUIDL: String?
        while let first = rest.first, first != UInt8(ascii: ":") {
            let end = rest.firstIndex(of: UInt8(ascii: " ")) ?? rest.endIndex
            let field = rest[..<end]
            if field.first == UInt8(ascii: "P"), field.count > 1 {
                popUIDL = String(decoding: field.dropFirst(), as: UTF8.self)
            }
            guard end < rest.endIndex else { return nil }
            rest = rest[(end + 1)...]
        }
        guard rest.first == UInt8(ascii: ":") else { return nil }
        return (uid, popUIDL, rest.dropFirst())
    }

    // MARK: Courier

    /// Parses a `courierpop3dsizelist`.
    static func parseCourier(_ bytes: [UInt8]) -> [ArraySlice<UInt8>: String] {
        var lines = Self.lines(bytes)
        guard let header = lines.next(), header.first == UInt8(ascii: "/") else { return [:] }
        let fields = header.dropFirst().split(separator: UInt8(ascii: " "))
        guard fields.count >= 2, fields[0].elementsEqual("2".utf8) || fields[0].elementsEqual("3".utf8) else {
            return [:]
        }
        var ids: [ArraySlice<UInt8>: String] = [:]
        while let line = lines.next() {
            // `<name> <size> <uid>:<uidv>[:<utf8>]`; the name may hold spaces, the rest does not.
            guard let last = line.lastIndex(of: UInt8(ascii: " ")),
                let sizeSpace = line[..<last].lastIndex(of: UInt8(ascii: " ")),
                Self.decimal(line[(sizeSpace + 1)..<last]) != nil
            else { continue }
            let numbers = line[(last + 1)...].split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            guard numbers.count == 2 || numbers.count == 3, let uid = Self.decimal(numbers[0]),
                let validity = Self.decimal(numbers[1])
            else { continue }
            let baseName = Self.baseName(line[..<sizeSpace])
            guard !baseName.isEmpty else { continue }
            if uid == 0 {
                ids[baseName] = Self.courierNameUIDL(baseName)
            } else {
                ids[baseName] = validity == 0 ? "UID\(uid)" : "UID\(uid)-\(validity)"
            }
        }
        return ids
    }

    /// Courier's UIDL of a message it numbered 0: the base name, with bytes outside 0x21–0x7E and
    /// `'`, `"`, `+` as `+XX`.
    static func courierNameUIDL(_ baseName: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        let digits = Array("0123456789ABCDEF".utf8)
        for byte in baseName {
            if byte < 0x21 || byte > 0x7E || byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\"")
                || byte == UInt8(ascii: "+")
            {
                out += [UInt8(ascii: "+"), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Helpers

    /// The lines of `bytes` without their LF (a final line without one counts).
    private static func lines(_ bytes: [UInt8]) -> some IteratorProtocol<ArraySlice<UInt8>> {
        bytes[...].split(separator: 0x0A, omittingEmptySubsequences: true).makeIterator()
    }

    /// The file name up to its first `:` (the part that never changes).
    private static func baseName(_ name: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        name[..<(name.firstIndex(of: UInt8(ascii: ":")) ?? name.endIndex)]
    }

    private static func decimal(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard !digits.isEmpty, digits.count <= 19 else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            guard (0x30...0x39).contains(digit) else { return nil }
            value = value * 10 + UInt64(digit - 0x30)
        }
        return value
    }

    /// A decimal that fits Dovecot's 32-bit UIDs and UIDVALIDITY.
    private static func uint32(_ digits: ArraySlice<UInt8>) -> UInt64? {
        Self.decimal(digits).flatMap { $0 <= UInt64(UInt32.max) ? $0 : nil }
    }

    /// Dovecot's `%08X`: at least 8 hex digits, in lower case as Dovecot writes them.
    private static func hex8(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
