import NIOCore
import POP3Core
import Testing

/// The line framer fed the way a slow or hostile peer feeds it: one byte at a time.
@Suite("LineFramer")
struct LineFramerTests {
    @Test func aLongLineTrickledByteByByteIsFramedWhole() {
        var framer = LineFramer(maximumLineLength: 8192)
        var buffer = ByteBuffer()
        let long = String(repeating: "QUFB", count: 2000)
        var frames: [LineFramer.Frame] = []
        for byte in Array((long + "\r\nNOOP\n").utf8) {
            buffer.writeInteger(byte)
            while let frame = framer.next(buffer: &buffer) { frames.append(frame) }
            buffer.discardReadBytes()
        }
        #expect(frames == [.line(ByteBuffer(string: long)), .line(ByteBuffer(string: "NOOP"))])
        #expect(buffer.readableBytes == 0)
    }

    @Test func aTrickledOverlongLineIsReportedOnceAndDropped() {
        var framer = LineFramer(maximumLineLength: 10)
        var buffer = ByteBuffer()
        var frames: [LineFramer.Frame] = []
        for byte in Array((String(repeating: "x", count: 25) + "\r\nSTAT\r\n").utf8) {
            buffer.writeInteger(byte)
            while let frame = framer.next(buffer: &buffer) { frames.append(frame) }
        }
        #expect(
            frames == [.overlong(ExceededLineLengthLimit(actual: 10, maximum: 10)), .line(ByteBuffer(string: "STAT"))]
        )
    }

    /// An overlong line read together with the lines after it drops only itself. Found by the
    /// pop3-line-framer fuzz target (docs/RELIABILITY.md): the framer dropped the whole buffer,
    /// then the next line as the overlong one's tail, so a pipelining client lost commands.
    @Test func anOverlongLineDropsOnlyItselfWhenMoreLinesAreBuffered() {
        var framer = LineFramer(maximumLineLength: 8)
        var buffer = ByteBuffer(string: String(repeating: "a", count: 30) + "\r\nok\r\nSTAT\r\n" + "bbbbbbbbbbbb")
        var frames: [LineFramer.Frame] = []
        while let frame = framer.next(buffer: &buffer) { frames.append(frame) }
        #expect(
            frames == [
                .overlong(ExceededLineLengthLimit(actual: 32, maximum: 8)),
                .line(ByteBuffer(string: "ok")),
                .line(ByteBuffer(string: "STAT")),
                .overlong(ExceededLineLengthLimit(actual: 12, maximum: 8)),
            ]
        )
        #expect(buffer.readableBytes == 0)
    }

    /// A partial line searched before, then moved by `discardReadBytes` and extended.
    @Test func partialLineSurvivesDiscardingReadBytes() {
        var framer = LineFramer(maximumLineLength: 100)
        var buffer = ByteBuffer(string: "CAPA\r\nLI")
        #expect(framer.next(buffer: &buffer) == .line(ByteBuffer(string: "CAPA")))
        #expect(framer.next(buffer: &buffer) == nil)
        buffer.discardReadBytes()
        #expect(framer.next(buffer: &buffer) == nil)
        buffer.writeString("ST\nUIDL 1\r\n")
        #expect(framer.next(buffer: &buffer) == .line(ByteBuffer(string: "LIST")))
        #expect(framer.next(buffer: &buffer) == .line(ByteBuffer(string: "UIDL 1")))
        #expect(framer.next(buffer: &buffer) == nil)
    }
}
