// File-system paths as bytes: Maildir names need not be valid UTF-8 (maildir(5) allows any
// name without `/` or a leading `.`), so names read from a directory are kept as bytes and
// never pass through a lossy String round trip on their way back to the kernel.

/// A file-system path as raw bytes, without a terminating NUL.
struct RawPath: Hashable, Sendable, CustomStringConvertible {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    init(_ string: String) {
        self.bytes = Array(string.utf8)
    }

    /// `self/component`.
    func appending(_ component: some Sequence<UInt8>) -> RawPath {
        var bytes = self.bytes
        if bytes.last != UInt8(ascii: "/") {
            bytes.append(UInt8(ascii: "/"))
        }
        bytes.append(contentsOf: component)
        return RawPath(bytes)
    }

    func appending(_ component: String) -> RawPath {
        self.appending(component.utf8)
    }

    /// Calls `body` with the path as a NUL-terminated C string.
    func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var terminated = self.bytes
        terminated.append(0)
        return try terminated.withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }  // safe: never empty
        }
    }

    /// For error messages only; invalid UTF-8 shows as U+FFFD.
    var description: String { String(decoding: self.bytes, as: UTF8.self) }
}
