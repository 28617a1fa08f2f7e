import Foundation

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("accounts-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: file(name)), options: .atomic)
    }

    /// Rewrites a file in place (same inode: truncate, then write), as a script with `>` does;
    /// a reader may see any stage of it.
    func rewriteInPlace(_ name: String, _ text: String) throws {
        guard let handle = FileHandle(forWritingAtPath: file(name)) else {
            throw CocoaError(.fileNoSuchFile)
        }
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
    }

    func read(_ name: String) throws -> String {
        try String(decoding: Data(contentsOf: URL(fileURLWithPath: file(name))), as: UTF8.self)
    }

    func entries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

enum FileManagerShim {
    static func remove(_ path: String) throws {
        try FileManager.default.removeItem(atPath: path)
    }
}
