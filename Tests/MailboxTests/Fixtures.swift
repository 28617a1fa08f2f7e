import Foundation

@testable import Mailbox

/// Builds test messages and stores in temporary directories.
enum Fixture {
    /// A message from header lines and a body, CRLF line ends.
    static func message(_ headers: [String], body: String, lineEnd: String = "\r\n") -> [UInt8] {
        Array((headers.joined(separator: lineEnd) + lineEnd + lineEnd + body).utf8)
    }

    static func plain(
        from: String = "Alice Example <alice@example.com>",
        to: String = "Bob <bob@example.org>",
        subject: String,
        date: String = "Mon, 4 Mar 2024 10:00:00 +0000",
        body: String
    ) -> [UInt8] {
        message(
            [
                "From: \(from)", "To: \(to)", "Subject: \(subject)", "Date: \(date)",
                "Message-ID: <\(subject.filter { $0.isLetter || $0.isNumber })@test>",
            ],
            body: body
        )
    }

    /// multipart/mixed with a text part and attachments given as (header lines, base64 data).
    static func withAttachments(
        subject: String,
        text: String,
        attachments: [(headers: [String], data: [UInt8])],
        date: String = "Tue, 5 Mar 2024 09:30:00 +0100"
    ) -> [UInt8] {
        var body = "This is a MIME message.\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\(text)\r\n"
        for attachment in attachments {
            body +=
                "--outer\r\n" + attachment.headers.joined(separator: "\r\n")
                + "\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            body += Data(attachment.data).base64EncodedString(options: .lineLength76Characters) + "\r\n"
        }
        body += "--outer--\r\n"
        return message(
            [
                "From: Carol <carol@example.net>", "To: dave@example.com", "Subject: \(subject)", "Date: \(date)",
                "MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=\"outer\"",
            ],
            body: body
        )
    }

    static func htmlOnly(subject: String, html: String) -> [UInt8] {
        message(
            [
                "From: news@example.com", "Subject: \(subject)", "Date: Wed, 6 Mar 2024 08:00:00 -0500",
                "MIME-Version: 1.0", "Content-Type: text/html; charset=\"utf-8\"",
                "Content-Transfer-Encoding: quoted-printable",
            ],
            body: html
        )
    }

    /// The generated corpus, by name.
    static func corpus() -> [(name: String, bytes: [UInt8])] {
        [
            (
                "plain",
                plain(subject: "Lunch on Friday", body: "Shall we meet at noon?\r\nFrom here it is ten minutes.\r\n")
            ),
            (
                "encoded-subject",
                plain(
                    from: "=?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.fr>",
                    subject: "=?UTF-8?B?UmFwcG9ydCBtZW5zdWVs?= =?UTF-8?Q?_=C3=A9t=C3=A9?=",
                    date: "Thu, 7 Mar 2024 12:00:00 +0100",
                    body: "Voici le rapport.\r\n"
                )
            ),
            (
                "attachment-2231",
                withAttachments(
                    subject: "Invoice",
                    text: "Please find the invoice attached.",
                    attachments: [
                        (
                            [
                                "Content-Type: application/pdf",
                                "Content-Disposition: attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf",
                            ],
                            Array("%PDF-1.4 fake".utf8)
                        )
                    ]
                )
            ),
            (
                "attachment-2047",
                withAttachments(
                    subject: "Photos",
                    text: "Two pictures.",
                    attachments: [
                        (
                            [
                                "Content-Type: image/png; name=\"=?ISO-8859-1?Q?f=F6to.png?=\"",
                                "Content-Disposition: attachment",
                            ], [0x89, 0x50, 0x4E, 0x47]
                        ),
                        (
                            [
                                "Content-Type: application/octet-stream",
                                "Content-Disposition: attachment; filename=\"../../etc/passwd\"",
                            ], Array("root:x:0:0".utf8)
                        ),
                    ],
                    date: "Fri, 8 Mar 2024 18:45:00 +0000"
                )
            ),
            (
                "html-only",
                htmlOnly(
                    subject: "Newsletter",
                    html:
                        "<html><head><style>p{}</style></head><body><p>Hello&nbsp;reader &amp; friend,</p><p>Read <a href=\"https://example.com/x\">our news</a>.</p></body></html>"
                )
            ),
            (
                "broken-encoding",
                message(
                    [
                        "From: broken@example.com", "Subject: =?utf-8?B?not base64 at all?=", "Date: garbage",
                        "Content-Transfer-Encoding: base64",
                    ],
                    body: "!!!SGVsbG8gd29y bGQ=###\r\n"
                )
            ),
            ("missing-headers", Array("just a body line without any header\r\nand another\r\n".utf8)),
            (
                "eight-bit-header",
                [UInt8](
                    "From: J\u{f6}rg <joerg@example.de>\r\nSubject: Gr\u{fc}\u{df}e aus K\u{f6}ln\r\nDate: Sat, 9 Mar 2024 07:00:00 +0100\r\n\r\nHallo.\r\n"
                        .utf8
                )
            ),
            (
                "latin1-8bit-header",
                [UInt8]("From: x@example.de\r\nSubject: Gr".utf8) + [0xFC, 0xDF]
                    + Array("e\r\nDate: Sun, 10 Mar 2024 07:00:00 +0100\r\n\r\nbody\r\n".utf8)
            ),
        ]
    }
}

/// A temporary Maildir (cur/ new/ tmp/), removed on deinit.
final class TemporaryMaildir {
    let root: String
    private var counter = 0

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("mailbox-tests-\(UUID().uuidString)").path
        for sub in ["cur", "new", "tmp"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Delivers into `new/` (or a folder); returns the file name relative to the root.
    @discardableResult
    func deliver(_ bytes: [UInt8], folder: String? = nil, subdirectory: String = "new", name: String? = nil) throws
        -> String
    {
        counter += 1
        let fileName = name ?? "1700000000.M\(counter)P\(getpid()).testhost,S=\(bytes.count)"
        var directory = root
        if let folder {
            directory += "/." + folder
            for sub in ["cur", "new", "tmp"] {
                try FileManager.default.createDirectory(
                    atPath: directory + "/" + sub,
                    withIntermediateDirectories: true
                )
            }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + subdirectory + "/" + fileName))
        return (folder.map { ".\($0)/" } ?? "") + subdirectory + "/" + fileName
    }

    func path(_ relative: String) -> String { root + "/" + relative }
}

/// A temporary directory, removed on deinit.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("mailbox-tmp-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
