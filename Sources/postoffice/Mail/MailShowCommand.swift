import ArgumentParser
import Mailbox

struct MailShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a message: headers, text (HTML rendered as text), attachments."
    )

    @OptionGroup var store: MailStoreOptions

    @Argument(help: "The message ID.")
    var id: String

    @Flag(help: "Print the message exactly as stored.")
    var raw = false

    @Flag(help: "Print every header field (decoded), not only the usual ones.")
    var headers = false

    @Flag(help: "Print a JSON object as `list --json`, plus `text` (the decoded body).")
    var json = false

    func run() throws {
        let mailbox = try store.open()
        let summary = try mailbox.summary(id: id)
        let bytes = try mailbox.rawMessage(summary)
        if raw {
            Output.write(bytes: bytes)
            return
        }
        let message = MessageParser.parse(bytes)
        let content = message.content
        if json {
            let headerList = message.header.fields.map {
                "{\(JSONText.quoted("name")): \(JSONText.quoted($0.name)), \(JSONText.quoted("value")): \(JSONText.quoted($0.value))}"
            }
            Output.write(
                MessageFormatting.jsonObject(
                    summary,
                    extra: [
                        ("text", JSONText.quoted(content.text)),
                        ("html", content.isRenderedHTML ? "true" : "false"),
                        ("headers", "[" + headerList.joined(separator: ", ") + "]"),
                    ]
                ) + "\n"
            )
            return
        }
        let terminal = Terminal.standardOutput()
        var output = ""
        func field(_ name: String, _ value: String) {
            output += terminal.styled(name + ":", .bold) + " " + SafeText.line(value) + "\n"
        }
        if headers {
            for header in message.header.fields { field(header.name, header.value.collapsed) }
        } else {
            field("ID", summary.id)
            field("Date", MessageFormatting.localDate(summary.date))
            field("From", summary.from)
            if !summary.to.isEmpty { field("To", summary.to) }
            field("Subject", summary.subject)
        }
        output += "\n"
        if content.isRenderedHTML { output += terminal.styled("[HTML rendered as text]", .dim) + "\n\n" }
        output += SafeText.block(content.text)
        if !output.hasSuffix("\n") { output += "\n" }
        if !content.attachments.isEmpty {
            output += "\n" + terminal.styled("Attachments:", .bold) + "\n"
            for (number, attachment) in content.attachments.enumerated() {
                output +=
                    "  \(number + 1). \(SafeText.line(attachment.filename))  (\(attachment.mediaType), "
                    + "\(MessageFormatting.size(attachment.data.count)))\n"
            }
        }
        terminal.emit(output)
    }
}

extension String {
    var collapsed: String {
        split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }
}

struct MailAttachmentsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attachments",
        abstract: "List a message's attachments, or save them with --save DIR.",
        discussion: """
            Names are decoded (RFC 2231, RFC 2047) and made safe: nothing is written outside \
            DIR, whatever the name says; an existing file is never replaced (name (1).ext).
            """
    )

    @OptionGroup var store: MailStoreOptions

    @Argument(help: "The message ID.")
    var id: String

    @Option(help: ArgumentHelp("Save the attachments into this directory; prints the paths written.", valueName: "dir"))
    var save: String?

    @Flag(help: "List as a JSON array of {name, type, size}.")
    var json = false

    func run() throws {
        let mailbox = try store.open()
        let summary = try mailbox.summary(id: id)
        let attachments = try mailbox.message(summary).content.attachments
        if let save {
            for path in try AttachmentWriter.save(attachments, to: save) { Output.write(SafeText.line(path) + "\n") }
            return
        }
        if json {
            let items = attachments.map {
                "{\(JSONText.quoted("name")): \(JSONText.quoted($0.filename)), \(JSONText.quoted("type")): "
                    + "\(JSONText.quoted($0.mediaType)), \(JSONText.quoted("size")): \($0.data.count)}"
            }
            Output.write("[" + items.joined(separator: ", ") + "]\n")
            return
        }
        for (number, attachment) in attachments.enumerated() {
            Output.write(
                "\(number + 1). \(SafeText.line(attachment.filename))  (\(attachment.mediaType), "
                    + "\(MessageFormatting.size(attachment.data.count)))\n"
            )
        }
    }
}
