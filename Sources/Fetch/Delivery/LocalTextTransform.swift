// CRLF -> LF for local storage, and mboxrd ">From " quoting; chunk-boundary safe.

/// Converts the server's CRLF line ends to LF (local mail files use LF) and, for mbox, quotes
/// lines matching `^>*From ` with one more `>` (mboxrd, RFC 4155 §"mboxrd" as practised by
/// qmail and mutt), so the un-quoting reader restores the exact message.
///
/// State carries across chunks: a pending CR, and at a line start whether we are in the
/// line's leading `>` run and how much of "From " follows it. Memory is constant: the `>`s are
/// written as they arrive (all `>` bytes are alike, so the quoting `>` can go right before
/// "From " instead of before the run), and at most four bytes ("From") are held back.
struct LocalTextTransform {
    private let quoteFromLines: Bool
    private var pendingCR = false
    private var atLineStart = true
    /// Inside the `>` run that starts the current line (its `>`s are already written).
    private var inQuoteRun = false
    /// How many bytes of "From " are held back after the line's `>` run (0–4).
    private var fromMatched = 0
    /// LF bytes written so far (lines), for Maildir's `,W=` size.
    private(set) var lineFeeds = 0
    /// Whether the last byte emitted was LF (or nothing was emitted).
    private(set) var endsWithNewline = true
    private static let from = Array("From ".utf8)

    init(quoteFromLines: Bool) {
        self.quoteFromLines = quoteFromLines
    }

    mutating func transform<Bytes: Sequence<UInt8>>(_ input: Bytes, into output: inout [UInt8]) {
        for byte in input {
            if pendingCR {
                pendingCR = false
                if byte != UInt8(ascii: "\n") {
                    emit(UInt8(ascii: "\r"), into: &output)
                }
            }
            if byte == UInt8(ascii: "\r") {
                pendingCR = true
                continue
            }
            emit(byte, into: &output)
        }
    }

    /// Flushes what is held at the end of the message.
    mutating func finish(into output: inout [UInt8]) {
        if pendingCR {
            pendingCR = false
            emit(UInt8(ascii: "\r"), into: &output)
        }
        flushHeld(into: &output)
    }

    private mutating func emit(_ byte: UInt8, into output: inout [UInt8]) {
        guard quoteFromLines, atLineStart || inQuoteRun || fromMatched > 0 else {
            put(byte, into: &output)
            return
        }
        if fromMatched == 0 && byte == UInt8(ascii: ">") {
            put(byte, into: &output)
            inQuoteRun = true
            return
        }
        if byte == Self.from[fromMatched] {
            fromMatched += 1
            if fromMatched == Self.from.count {
                // `>*From `: one more `>` (mboxrd).
                put(UInt8(ascii: ">"), into: &output)
                flushHeld(into: &output)
            }
            return
        }
        flushHeld(into: &output)
        put(byte, into: &output)
    }

    /// Writes the held part of "From " and leaves the line-start state.
    private mutating func flushHeld(into output: inout [UInt8]) {
        let held = fromMatched
        fromMatched = 0
        inQuoteRun = false
        for byte in Self.from.prefix(held) {
            put(byte, into: &output)
        }
    }

    private mutating func put(_ byte: UInt8, into output: inout [UInt8]) {
        output.append(byte)
        atLineStart = byte == UInt8(ascii: "\n")
        endsWithNewline = atLineStart
        if atLineStart { lineFeeds += 1 }
    }
}
