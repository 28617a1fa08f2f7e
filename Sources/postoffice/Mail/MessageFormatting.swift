import Foundation
import Mailbox

/// Renders message summaries as aligned columns or as the JSON contract scripts use.
enum MessageFormatting {
    /// `2024-03-01 14:05`, local time.
    static func localDate(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// `2024-03-01T13:05:00Z`.
    static func isoDate(_ seconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    /// `512`, `12K`, `3.4M`.
    static func size(_ octets: Int) -> String {
        if octets < 1024 { return "\(octets)" }
        if octets < 1024 * 1024 { return "\((octets + 512) / 1024)K" }
        let megabytes = Double(octets) / (1024 * 1024)
        return megabytes < 10 ? String(format: "%.1fM", megabytes) : "\(Int(megabytes.rounded()))M"
    }

    /// The table `mail list` and `mail search` print: ID, date, sender, attachment mark,
    /// subject, size; fitted to the terminal width when there is one.
    static func table(_ summaries: [MessageSummary], terminal: Terminal) -> String {
        guard !summaries.isEmpty else { return "" }
        let idWidth = summaries.map(\.id.count).max() ?? 8
        let dateWidth = 16
        let sizeWidth = max(4, summaries.map { size($0.size).count }.max() ?? 4)
        let showFolders = Set(summaries.map(\.folder)).count > 1
        let folderWidth = showFolders ? min(16, summaries.map { folderName($0.folder).count }.max() ?? 5) : 0
        let fixed = idWidth + 2 + dateWidth + 2 + 2 + sizeWidth + 2 + (showFolders ? folderWidth + 2 : 0)
        var fromWidth = 24
        var subjectWidth: Int?
        if let width = terminal.width {
            let flexible = max(20, width - fixed - 1)
            fromWidth = max(8, min(24, flexible * 3 / 10))
            subjectWidth = max(8, flexible - fromWidth - 2)
        }
        var output = ""
        for summary in summaries {
            var line = terminal.styled(summary.id.padding(toLength: idWidth, withPad: " ", startingAt: 0), .yellow)
            line += "  " + terminal.styled(localDate(summary.date), .dim) + "  "
            if showFolders { line += DisplayWidth.fit(folderName(summary.folder), folderWidth) + "  " }
            let sender = SafeText.line(summary.sender.isEmpty ? "(no sender)" : summary.sender)
            line += DisplayWidth.fit(sender, fromWidth) + "  "
            line += summary.attachments.isEmpty ? "  " : terminal.styled("@", .cyan) + " "
            let subject = SafeText.line(summary.subject.isEmpty ? "(no subject)" : summary.subject)
            let sizeText = size(summary.size)
            let paddedSize = String(repeating: " ", count: max(0, sizeWidth - sizeText.count)) + sizeText
            if let subjectWidth {
                line += DisplayWidth.fit(subject, subjectWidth) + "  " + paddedSize
            } else {
                line += subject + "  " + paddedSize
            }
            output += line + "\n"
        }
        return output
    }

    static func folderName(_ folder: String) -> String { folder.isEmpty ? "INBOX" : folder }

    /// One JSON object: id, date, from, to, subject, size, attachments, folder (plus extra
    /// members, e.g. `text`, already encoded).
    static func jsonObject(_ summary: MessageSummary, extra: [(String, String)] = []) -> String {
        var members: [(String, String)] = [
            ("id", JSONText.quoted(summary.id)),
            ("date", JSONText.quoted(isoDate(summary.date))),
            ("from", JSONText.quoted(summary.from)),
            ("to", JSONText.quoted(summary.to)),
            ("subject", JSONText.quoted(summary.subject)),
            ("size", String(summary.size)),
            ("attachments", "[" + summary.attachments.map(JSONText.quoted).joined(separator: ", ") + "]"),
            ("folder", JSONText.quoted(folderName(summary.folder))),
        ]
        members += extra
        return "{" + members.map { "\(JSONText.quoted($0.0)): \($0.1)" }.joined(separator: ", ") + "}"
    }

    static func jsonArray(_ summaries: [MessageSummary]) -> String {
        if summaries.isEmpty { return "[]\n" }
        return "[\n" + summaries.map { "  " + jsonObject($0) }.joined(separator: ",\n") + "\n]\n"
    }
}
