// CRLF -> LF for local storage, and mboxrd ">From " quoting; chunk-boundary safe.

/// Converts the server's CRLF line ends to LF (local mail files use LF) and, for mbox, quotes
/// lines matching `^>*From ` with one more `>` (mboxrd, RFC 4155 §"mboxrd" as practised by
/// qmail and mutt), so the un-quoting reader restores the exact message.
///
/// State carries across chunks: a pending CR, and at a line start the `>`s and the part of
/// "From " matched so far.
struct LocalTextTransform {
    private let quoteFromLines: Bool
    private var pendingCR = false
    private var atLineStart = true
    /// Bytes held at a line start while they could still turn out to be `>*From `.
    private var held: [UInt8] = []
    /// How many bytes of "From " `held` ends with.
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
        guard quoteFromLines, atLineStart else {
            put(byte, into: &output)
            return
        }
        if fromMatched == 0 && byte == UInt8(ascii: ">") {
            held.append(byte)
            return
        }
        if byte == Self.from[fromMatched] {
            held.append(byte)
            fromMatched += 1
            if fromMatched == Self.from.count {
                put(UInt8(ascii: ">"), into: &output)
                flushHeld(into: &output)
            }
            return
        }
        flushHeld(into: &output)
        put(byte, into: &output)
    }

    private mutating func flushHeld(into output: inout [UInt8]) {
        let bytes = held
        held.removeAll(keepingCapacity: true)
        fromMatched = 0
        for byte in bytes {
            put(byte, into: &output)
        }
        if !bytes.isEmpty { atLineStart = false }
    }

    private mutating func put(_ byte: UInt8, into output: inout [UInt8]) {
        output.append(byte)
        atLineStart = byte == UInt8(ascii: "\n")
        endsWithNewline = atLineStart
        if atLineStart { lineFeeds += 1 }
    }
}
