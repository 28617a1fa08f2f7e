// A message body cut into the pieces the store keeps, each already in wire form.
import NIOCore

/// The wire form (``WireForm``) of a body, in pieces: piece `i` is the wire form of the input's
/// bytes `i * size ..< (i + 1) * size`, and the last piece also carries the line end an
/// unterminated last line gets. So the pieces are made the same way every time (a delivery
/// walks them twice: once to hash, once to store) and each is at most `2 * size + 2` bytes.
struct WireChunks: Sequence, Sendable {
    let body: [UInt8]
    let size: Int

    init(_ body: [UInt8], size: Int) {
        precondition(size > 0)
        self.body = body
        self.size = size
    }

    /// How many pieces there are (none for an empty body).
    var count: Int { (body.count + size - 1) / size }

    struct Iterator: IteratorProtocol {
        let body: [UInt8]
        let size: Int
        var offset = 0
        var form = WireForm()

        mutating func next() -> ByteBuffer? {
            guard offset < body.count else { return nil }
            let end = Swift.min(offset + size, body.count)
            var piece = ByteBuffer()
            body.withUnsafeBytes { raw in
                form.convert(UnsafeRawBufferPointer(rebasing: raw[offset..<end]), into: &piece)
            }
            offset = end
            if offset == body.count {
                form.finish(into: &piece)
            }
            return piece
        }
    }

    func makeIterator() -> Iterator { Iterator(body: body, size: size) }
}
