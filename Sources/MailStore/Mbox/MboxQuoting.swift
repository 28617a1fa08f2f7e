// mboxrd quoting and unquoting (RFC 4155's family; qmail and mutt practise mboxrd), and the
// CRLF → LF conversion for local storage: streaming, chunk-boundary safe, in constant memory.
// The one implementation of `>From` quoting in the package.

/// Converts a message's CRLF line ends to LF (local mail files use LF) and, for mbox, quotes
/// lines matching `^>*From ` with one more `>` (mboxrd), so `MboxUnquoter` restores the exact
/// message.
///
/// State carries across chunks: a pending CR, and at a line start whether we are in the line's
/// leading `>` run and how much of "From " follows it. Memory is constant: the `>`s are written
/// as they arrive (all `>` bytes are alike, so the quoting `>` can go right before "From "
/// instead of before the run), and at most four bytes ("From") are held back.
public struct LocalTextTransform: Sendable {
    private let quoteFromLines: Bool
    private let convertCRLF: Bool
    private var pendingCR = false
    private var atLineStart = true
    /// Inside the `>` run that starts the current line (its `>`s are already written).
    private var inQuoteRun = false
    /// How many bytes of "From " are held back after the line's `>` run (0–4).
    private var fromMatched = 0
    /// LF bytes written so far (lines).
    public private(set) var lineFeeds = 0
    /// Whether the last byte emitted was LF (or nothing was emitted).
    public private(set) var endsWithNewline = true

    /// - Parameters:
    ///   - quoteFromLines: quote `>*From ` lines (for mbox); `false` converts line ends only
    ///     (for Maildir and MDA input).
    ///   - convertCRLF: turn CRLF into LF (a message as a POP3 server sends it); `false` keeps
    ///     every byte but the quoting `>`s (a message already stored with local line ends).
    public init(quoteFromLines: Bool, convertCRLF: Bool = true) {
        self.quoteFromLines = quoteFromLines
        self.convertCRLF = convertCRLF
    }

    /// Transforms the next part of the message, appending to `output`.
    public mutating func transform(_ input: some Sequence<UInt8>, into output: inout [UInt8]) {
        for byte in input {
            if self.pendingCR {
                self.pendingCR = false
                if byte != UInt8(ascii: "\n") {
                    self.emit(UInt8(ascii: "\r"), into: &output)
                }
            }
            if byte == UInt8(ascii: "\r"), self.convertCRLF {
                self.pendingCR = true
                continue
            }
            self.emit(byte, into: &output)
        }
    }

    /// Flushes what is held at the end of the message.
    public mutating func finish(into output: inout [UInt8]) {
        if self.pendingCR {
            self.pendingCR = false
            self.emit(UInt8(ascii: "\r"), into: &output)
        }
        self.flushHeld(into: &output)
    }

    private mutating func emit(_ byte: UInt8, into output: inout [UInt8]) {
        guard self.quoteFromLines, self.atLineStart || self.inQuoteRun || self.fromMatched > 0 else {
            self.put(byte, into: &output)
            return
        }
        if self.fromMatched == 0 && byte == UInt8(ascii: ">") {
            self.put(byte, into: &output)
            self.inQuoteRun = true
            return
        }
        if byte == Mbox.fromPrefix[self.fromMatched] {
            self.fromMatched += 1
            if self.fromMatched == Mbox.fromPrefix.count {
                // `>*From `: one more `>` (mboxrd).
                self.put(UInt8(ascii: ">"), into: &output)
                self.flushHeld(into: &output)
            }
            return
        }
        self.flushHeld(into: &output)
        self.put(byte, into: &output)
    }

    /// Writes the held part of "From " and leaves the line-start state.
    private mutating func flushHeld(into output: inout [UInt8]) {
        let held = self.fromMatched
        self.fromMatched = 0
        self.inQuoteRun = false
        for byte in Mbox.fromPrefix.prefix(held) {
            self.put(byte, into: &output)
        }
    }

    private mutating func put(_ byte: UInt8, into output: inout [UInt8]) {
        output.append(byte)
        self.atLineStart = byte == UInt8(ascii: "\n")
        self.endsWithNewline = self.atLineStart
        if self.atLineStart {
            self.lineFeeds += 1
        }
    }
}

/// mboxrd reading: a line matching `^>+From ` loses one `>`; everything else passes unchanged.
///
/// Streaming and chunk-boundary safe in constant memory: at a line start the first `>` is held
/// (it is the one that may go), further `>`s pass at once (all `>`s are alike), and at most four
/// bytes of "From" are held while they might still become "From ".
public struct MboxUnquoter: Sendable {
    private var atLineStart = true
    /// A line-start `>` held back: dropped if the run ends in "From ".
    private var heldQuote = false
    /// How many bytes of "From " are held after the `>` run (0–4).
    private var fromMatched = 0

    public init() {}

    /// Unquotes the next part of the stored entry, appending to `output`.
    public mutating func unquote(_ input: some Sequence<UInt8>, into output: inout [UInt8]) {
        for byte in input {
            self.feed(byte, into: &output)
        }
    }

    /// Flushes what is held at the end of the entry.
    public mutating func finish(into output: inout [UInt8]) {
        self.flushHeld(into: &output)
        self.atLineStart = true
    }

    private mutating func feed(_ byte: UInt8, into output: inout [UInt8]) {
        if self.atLineStart {
            self.atLineStart = false
            if byte == UInt8(ascii: ">") {
                self.heldQuote = true
                return
            }
            output.append(byte)
            self.atLineStart = byte == UInt8(ascii: "\n")
            return
        }
        guard self.heldQuote else {
            output.append(byte)
            self.atLineStart = byte == UInt8(ascii: "\n")
            return
        }
        if self.fromMatched == 0, byte == UInt8(ascii: ">") {
            output.append(byte)
            return
        }
        if byte == Mbox.fromPrefix[self.fromMatched] {
            self.fromMatched += 1
            if self.fromMatched == Mbox.fromPrefix.count {
                // `>+From `: the held `>` goes.
                self.heldQuote = false
                self.fromMatched = 0
                output.append(contentsOf: Mbox.fromPrefix)
            }
            return
        }
        self.flushHeld(into: &output)
        output.append(byte)
        self.atLineStart = byte == UInt8(ascii: "\n")
    }

    private mutating func flushHeld(into output: inout [UInt8]) {
        if self.heldQuote {
            output.append(UInt8(ascii: ">"))
            self.heldQuote = false
        }
        output.append(contentsOf: Mbox.fromPrefix.prefix(self.fromMatched))
        self.fromMatched = 0
    }
}

extension Mbox {
    /// mboxrd writing of a whole message: `From `, `>From `, `>>From `, … gain one `>`. Line
    /// ends are kept as they are.
    public static func quote(_ message: some Sequence<UInt8>) -> [UInt8] {
        var transform = LocalTextTransform(quoteFromLines: true, convertCRLF: false)
        var output: [UInt8] = []
        output.reserveCapacity(message.underestimatedCount + 16)
        transform.transform(message, into: &output)
        transform.finish(into: &output)
        return output
    }

    /// mboxrd reading of a whole entry: `>From `, `>>From `, … lose one `>`.
    public static func unquote(_ stored: some Sequence<UInt8>) -> [UInt8] {
        var unquoter = MboxUnquoter()
        var output: [UInt8] = []
        output.reserveCapacity(stored.underestimatedCount)
        unquoter.unquote(stored, into: &output)
        unquoter.finish(into: &output)
        return output
    }
}
