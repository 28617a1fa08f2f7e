#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How `export` treats an existing output file.
public enum ExportMode: Sendable {
    /// Fail when the file exists.
    case create
    /// Replace it (atomically: the old file stays until the new one is complete).
    case overwrite
    /// Add to its end.
    case append
}

extension OfflineMailbox {
    /// Writes the messages matching `query` (all when nil), oldest first, as mboxrd to
    /// `path` (`-` for standard output). Returns how many were written.
    @discardableResult
    public func exportMbox(query: SearchQuery?, folder: String? = nil, to path: String, mode: ExportMode) throws -> Int
    {
        let messages = try search(query ?? SearchQuery(terms: []), folder: folder).reversed()
        let isStandardOutput = path == "-"
        let target = isStandardOutput || mode == .append ? path : path + ".partial.\(getpid())"
        if !isStandardOutput, mode == .create, FileSystem.status(path) != nil { throw MailboxError.outputExists(path) }
        let descriptor: Int32
        if isStandardOutput {
            descriptor = STDOUT_FILENO
        } else {
            let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (mode == .append ? O_APPEND : O_TRUNC)
            descriptor = open(target, flags, 0o600)
            guard descriptor >= 0 else { throw FileSystemError(path: target, operation: "create", code: errno) }
        }
        defer { if !isStandardOutput { close(descriptor) } }
        var count = 0
        do {
            for summary in messages {
                let raw = try rawMessage(summary)
                var entry = Array(Mbox.fromLine(for: MessageParser.parse(raw), date: summary.date).utf8)
                entry.append(Byte.lf)
                entry.append(contentsOf: Mbox.quote(raw[...]))
                if entry.last != Byte.lf { entry.append(Byte.lf) }
                entry.append(Byte.lf)
                try FileSystem.writeAll(descriptor, entry, path: path)
                count += 1
            }
            if !isStandardOutput {
                guard fsync(descriptor) == 0 else {
                    throw FileSystemError(path: target, operation: "fsync", code: errno)
                }
                if mode != .append, rename(target, path) != 0 {
                    throw FileSystemError(path: path, operation: "rename", code: errno)
                }
            }
        } catch {
            if !isStandardOutput, mode != .append { unlink(target) }
            throw error
        }
        return count
    }
}

extension Mbox {
    /// The separator line `From sender asctime-date` (UTC). The sender is the Return-Path,
    /// else the first From address, else `MAILER-DAEMON`; it never holds whitespace.
    static func fromLine(for message: Message, date: Int64) -> String {
        var sender = ""
        if let returnPath = message.header.first("Return-Path") {
            sender = Address.parseList(returnPath.rawValue).first?.address ?? ""
        }
        if sender.isEmpty { sender = message.from.first?.address ?? "" }
        sender = String(sender.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7F }.map(Character.init))
        if sender.isEmpty { sender = "MAILER-DAEMON" }
        return "From \(sender) \(asctime(date))"
    }

    /// `Thu Jan  1 00:00:00 1970`, UTC.
    static func asctime(_ seconds: Int64) -> String {
        let days = Int(seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400)
        let secondOfDay = Int(seconds - Int64(days) * 86400)
        let (year, month, day) = civil(fromDays: days)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let weekday = weekdays[((days % 7) + 7) % 7]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let paddedDay = day < 10 ? " \(day)" : "\(day)"
        return
            "\(weekday) \(months[month - 1]) \(paddedDay) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) \(year)"
    }

    /// Inverse of ``MessageDate/daysFromCivil(year:month:day:)`` (H. Hinnant's algorithm).
    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let shifted = days + 719468
        let era = (shifted >= 0 ? shifted : shifted - 146096) / 146097
        let dayOfEra = shifted - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
