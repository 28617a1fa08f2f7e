import Testing

@testable import Mailbox

@Suite("RFC 2045 / RFC 2231 parameters")
struct MIMEParameterTests {
    @Test func rfc2045ContentType() {
        let value = MIMEHeaderValue.parse(Array("Text/Plain; charset=\"ISO-8859-1\" (a comment); format=flowed".utf8))
        #expect(value.value == "text/plain")
        #expect(value.parameters["charset"] == "ISO-8859-1")
        #expect(value.parameters["format"] == "flowed")
    }

    /// RFC 2231 §3: continuations.
    @Test func rfc2231Continuations() {
        let raw =
            "message/external-body; access-type=URL;\r\n URL*0=\"ftp://\";\r\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\""
        let value = MIMEHeaderValue.parse(Array(raw.utf8))
        #expect(value.parameters["url"] == "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")
        #expect(value.parameters["access-type"] == "URL")
    }

    /// RFC 2231 §4: charset and language.
    @Test func rfc2231CharsetAndLanguage() {
        let value = MIMEHeaderValue.parse(
            Array("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A".utf8)
        )
        #expect(value.parameters["title"] == "This is ***fun***")
    }

    /// RFC 2231 §4.1: combining continuations with encoded and plain sections.
    @Test func rfc2231MixedSections() {
        let raw =
            "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\""
        #expect(MIMEHeaderValue.parse(Array(raw.utf8)).parameters["title"] == "This is even more ***fun*** isn't it!")
    }

    @Test(arguments: [
        ("attachment; filename*=UTF-8''%C3%A9t%C3%A9.pdf", "été.pdf"),
        ("attachment; filename*=iso-8859-1'de'Gr%FC%DFe.txt", "Grüße.txt"),
        ("attachment; filename*0*=UTF-8''Rechnung%20; filename*1*=M%C3%A4rz.pdf", "Rechnung März.pdf"),
        // Sections out of order still join in number order.
        ("attachment; filename*1=\"b.txt\"; filename*0=\"a\"", "ab.txt"),
        // The RFC 2231 form wins over the plain one.
        ("attachment; filename=\"fallback.pdf\"; filename*=UTF-8''r%C3%A9el.pdf", "réel.pdf"),
        // RFC 2047 inside a quoted value: forbidden by RFC 2047 §5, sent by many mailers.
        ("attachment; filename=\"=?UTF-8?B?w6l0w6kucGRm?=\"", "été.pdf"),
        // Quoted extended value (wrong but common).
        ("attachment; filename*=\"UTF-8''na%C3%AFve.txt\"", "naïve.txt"),
        ("attachment; filename=\"with \\\"quotes\\\".txt\"", "with \"quotes\".txt"),
        ("attachment; filename=unquoted name.txt", "unquoted name.txt"),
        ("attachment; filename=\"unterminated.txt", "unterminated.txt"),
    ])
    func filenames(raw: String, expected: String) {
        #expect(MIMEHeaderValue.parse(Array(raw.utf8)).parameters["filename"] == expected)
    }

    @Test func garbageNeverFails() {
        let value = MIMEHeaderValue.parse(Array(";;; =; ==\"; name*x*=; name*99999999999999999999=1; (((".utf8))
        #expect(value.value == "")
    }
}
