import Testing

@testable import Mailbox

@Suite("RFC 5322 / MIME message parsing")
struct MessageParserTests {
    /// RFC 5322 §2.2.3: unfolding removes CRLF before whitespace.
    @Test func unfoldsHeaders() {
        let message = MessageParser.parse(
            Fixture.message(["Subject: This is a\r\n  folded\r\n\tsubject", "From: a@b"], body: "x")
        )
        #expect(message.header.first("subject")?.rawValue == Array("This is a  folded\tsubject".utf8))
        #expect(message.subject == "This is a folded subject")
    }

    @Test func acceptsLFOnlyAndObsoleteWhitespaceBeforeColon() {
        let message = MessageParser.parse(Array("Subject : hello\nFrom: a@example.com\n\nbody\n".utf8))
        #expect(message.subject == "hello")
        #expect(message.content.text == "body")
    }

    @Test func lineWithoutColonStartsBody() {
        let message = MessageParser.parse(Array("Subject: s\r\nnot a header\r\nmore\r\n".utf8))
        #expect(message.subject == "s")
        #expect(message.content.text == "not a header\nmore")
        #expect(!message.defects.isEmpty)
    }

    @Test func skipsMboxFromLine() {
        let message = MessageParser.parse(
            Array("From alice@example.com Mon Mar  4 10:00:00 2024\nSubject: s\n\nb\n".utf8)
        )
        #expect(message.subject == "s")
    }

    @Test func missingHeadersAreNotFatal() {
        let message = MessageParser.parse(Array("".utf8))
        #expect(message.header.fields.isEmpty)
        #expect(message.content.text == "")
        #expect(message.date == nil)
        #expect(message.from.isEmpty)
    }

    @Test func multipartAlternativePrefersPlainText() {
        let body = """
            --alt\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            Plain version\r
            --alt\r
            Content-Type: text/html\r
            \r
            <p>HTML version</p>\r
            --alt--\r
            """
        let message = MessageParser.parse(
            Fixture.message(["Content-Type: multipart/alternative; boundary=alt"], body: body)
        )
        #expect(message.root.children.count == 2)
        #expect(message.content.text == "Plain version")
        #expect(message.content.attachments.isEmpty)
        #expect(!message.content.isRenderedHTML)
    }

    @Test func htmlOnlyIsRenderedAsText() {
        let message = MessageParser.parse(
            Fixture.htmlOnly(subject: "n", html: "<p>Caf=C3=A9 &amp; <b>tea</b></p><p>Second</p>")
        )
        #expect(message.content.text == "Café & tea\n\nSecond")
        #expect(message.content.isRenderedHTML)
    }

    @Test func nestedMultipartWithRelatedAndAttachments() {
        let body = """
            --outer\r
            Content-Type: multipart/alternative; boundary="inner"\r
            \r
            --inner\r
            Content-Type: text/plain\r
            \r
            Body text\r
            --inner\r
            Content-Type: multipart/related; boundary=rel\r
            \r
            --rel\r
            Content-Type: text/html\r
            \r
            <img src="cid:1">\r
            --rel\r
            Content-Type: image/png\r
            Content-ID: <1>\r
            \r
            PNG\r
            --rel--\r
            --inner--\r
            --outer\r
            Content-Type: message/rfc822\r
            \r
            Subject: Forwarded one\r
            From: x@example.com\r
            \r
            inner body\r
            --outer\r
            Content-Type: application/pdf; name="doc.pdf"\r
            Content-Transfer-Encoding: base64\r
            \r
            JVBERg==\r
            --outer--\r
            """
        let message = MessageParser.parse(
            Fixture.message(["Content-Type: multipart/mixed; boundary=outer"], body: body)
        )
        let content = message.content
        #expect(content.text == "Body text")
        #expect(content.attachments.map(\.filename) == ["Forwarded one.eml", "doc.pdf"])
        #expect(content.attachments[1].data == Array("%PDF".utf8))
        #expect(content.attachments[0].part.isEmbeddedMessage)
        #expect(content.attachments[0].part.children.first?.header["Subject"] == "Forwarded one")
        #expect(message.defects.isEmpty)
    }

    @Test func missingClosingDelimiterKeepsLastPart() {
        let body = "--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\nContent-Type: text/plain\r\n\r\ntwo\r\n"
        let message = MessageParser.parse(Fixture.message(["Content-Type: multipart/mixed; boundary=b"], body: body))
        #expect(message.content.text == "one\n\ntwo")
        #expect(message.defects.contains("multipart without a closing delimiter"))
    }

    @Test func boundaryPrefixIsNotADelimiter() {
        let body = "--b\r\n\r\none\r\n--bc not a delimiter\r\n--b--\r\n"
        let message = MessageParser.parse(Fixture.message(["Content-Type: multipart/mixed; boundary=b"], body: body))
        #expect(message.content.text == "one\n--bc not a delimiter")
    }

    @Test func multipartWithoutBoundaryIsALeaf() {
        let message = MessageParser.parse(Fixture.message(["Content-Type: multipart/mixed"], body: "--x\r\n\r\nhi\r\n"))
        #expect(message.root.children.isEmpty)
        #expect(message.defects.contains("multipart without a boundary"))
    }

    @Test func digestDefaultsToMessageParts() {
        let body = "--d\r\n\r\nSubject: one\r\n\r\nfirst\r\n--d\r\n\r\nSubject: two\r\n\r\nsecond\r\n--d--\r\n"
        let message = MessageParser.parse(Fixture.message(["Content-Type: multipart/digest; boundary=d"], body: body))
        #expect(message.content.attachments.map(\.filename) == ["one.eml", "two.eml"])
    }

    @Test func nestingIsCappedAtTheDepthLimit() {
        var bytes: [UInt8] = []
        let depth = MessageParser.maximumDepth + 10
        for level in 0..<depth {
            bytes += Array("Content-Type: multipart/mixed; boundary=b\(level)\r\n\r\n--b\(level)\r\n".utf8)
        }
        bytes += Array("Content-Type: text/plain\r\n\r\ndeep\r\n".utf8)
        let message = MessageParser.parse(bytes)
        var part = message.root
        var levels = 0
        while let child = part.children.first {
            part = child
            levels += 1
        }
        #expect(levels == MessageParser.maximumDepth)
        #expect(message.defects.contains { $0.hasPrefix("nesting deeper") })
    }

    @Test func base64EncodedEmbeddedMessageIsDecoded() {
        let inner = "Subject: Inside\r\n\r\nhello\r\n"
        let encoded = [UInt8](inner.utf8)
        let body =
            "--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + Fixture.base64(encoded) + "\r\n--o--\r\n"
        let message = MessageParser.parse(Fixture.message(["Content-Type: multipart/mixed; boundary=o"], body: body))
        #expect(message.content.attachments.first?.filename == "Inside.eml")
    }

    @Test func corpusReadings() throws {
        let corpus = Dictionary(uniqueKeysWithValues: Fixture.corpus().map { ($0.name, MessageParser.parse($0.bytes)) })
        let encoded = try #require(corpus["encoded-subject"])
        #expect(encoded.subject == "Rapport mensuel été")
        #expect(encoded.from.first == Address(name: "Renée Dupont", address: "renee@example.fr"))

        let invoice = try #require(corpus["attachment-2231"])
        #expect(invoice.content.attachments.map(\.filename) == ["Rechnung März.pdf"])
        #expect(invoice.content.text == "Please find the invoice attached.")

        let photos = try #require(corpus["attachment-2047"])
        #expect(photos.content.attachments.map(\.filename) == ["föto.png", "../../etc/passwd"])

        let html = try #require(corpus["html-only"])
        #expect(html.content.text == "Hello reader & friend,\n\nRead our news <https://example.com/x>.")

        let broken = try #require(corpus["broken-encoding"])
        #expect(broken.date == nil)
        #expect(broken.content.text == "Hello world")

        let headless = try #require(corpus["missing-headers"])
        #expect(headless.header.fields.isEmpty)

        #expect(corpus["eight-bit-header"]?.subject == "Grüße aus Köln")
        #expect(corpus["eight-bit-header"]?.from.first?.name == "Jörg")
        #expect(corpus["latin1-8bit-header"]?.subject == "Grüße")
    }
}

extension Fixture {
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var output = ""
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value = chunk.enumerated().reduce(0) { $0 | Int($1.element) << (16 - 8 * $1.offset) }
            for position in 0..<4 {
                output.append(position <= chunk.count ? alphabet[(value >> (18 - 6 * position)) & 63] : "=")
            }
            index += 3
        }
        return output
    }
}
