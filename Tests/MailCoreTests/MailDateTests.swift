import MailCore
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("MailDate: RFC 5322 and asctime dates in UTC, formatted by hand")
struct MailDateTests {
    @Test(
        "known moments",
        arguments: [
            (Int64(0), "Thu, 01 Jan 1970 00:00:00 +0000", "Thu Jan  1 00:00:00 1970"),
            (1_709_546_400, "Mon, 04 Mar 2024 10:00:00 +0000", "Mon Mar  4 10:00:00 2024"),
            (1_739_440_800, "Thu, 13 Feb 2025 10:00:00 +0000", "Thu Feb 13 10:00:00 2025"),
            (951_782_399, "Mon, 28 Feb 2000 23:59:59 +0000", "Mon Feb 28 23:59:59 2000"),
            (951_868_800, "Wed, 01 Mar 2000 00:00:00 +0000", "Wed Mar  1 00:00:00 2000"),
            (-1, "Wed, 31 Dec 1969 23:59:59 +0000", "Wed Dec 31 23:59:59 1969"),
            (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 +0000", "Fri Jan  1 00:00:00 2100"),
        ]
    )
    func known(seconds: Int64, rfc5322: String, asctime: String) {
        #expect(MailDate.rfc5322(seconds) == rfc5322)
        #expect(MailDate.asctime(seconds) == asctime)
    }

    @Test("every field agrees with the C library's gmtime_r, 1901 to 2200")
    func agreesWithGmtime() {
        // A stride that is not a multiple of a day or a week visits every time of day, weekday,
        // month end and leap day over the range.
        var seconds: Int64 = -2_147_483_648
        while seconds < 7_258_118_400 {
            var time = time_t(seconds)
            var fields = tm()
            _ = gmtime_r(&time, &fields)
            let date = MailDate(seconds: seconds)
            let expected = [
                Int(fields.tm_year) + 1900, Int(fields.tm_mon) + 1, Int(fields.tm_mday), Int(fields.tm_hour),
                Int(fields.tm_min), Int(fields.tm_sec), Int(fields.tm_wday),
            ]
            let actual = [date.year, date.month, date.day, date.hour, date.minute, date.second, date.weekday]
            #expect(actual == expected, "at \(seconds)")
            if actual != expected { return }
            seconds += 86_413 * 7 + 3_599
        }
    }

    @Test("the RFC 5322 layout is fixed-width: two-digit day, four-digit year")
    func layout() {
        let text = MailDate.rfc5322(1_000_000_000)
        #expect(text == "Sun, 09 Sep 2001 01:46:40 +0000")
        #expect(text.utf8.count == 31)
    }
}
