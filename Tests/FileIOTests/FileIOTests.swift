// The POSIX layer: errors that name what failed, byte paths, listings, the atomic replace and
// the blocking pools.

import FileIO
import Foundation
import SystemPackage
import Testing

/// A new empty directory, removed afterwards.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let path = NSTemporaryDirectory() + "postoffice-fileio-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

@Suite("FileIO")
struct FileIOTests {
    @Test("an error names the operation, the path and errno's text")
    func errors() throws {
        let error = #expect(throws: FileIOError.self) { _ = try FileSystem.readFile("/nonexistent/postoffice/x") }
        #expect(error?.description == "open /nonexistent/postoffice/x: No such file or directory")
        #expect(error?.isNotFound == true)
        #expect(try FileSystem.status("/nonexistent/postoffice/x") == nil)
    }

    @Test("names that are not UTF-8 go to the kernel byte for byte")
    func bytePaths() throws {
        try withTemporaryDirectory { directory in
            let name: [UInt8] = [0x61, 0xFF, 0xFE, 0x3A, 0x62]
            let path = FilePath(directory).appending(rawComponent: name)
            try FileSystem.writeNewFile(path, Array("x".utf8))
            let listed = try FileSystem.entries(of: FilePath(directory))
            #expect(listed.map(\.name) == [name])
            #expect(listed.first?.kind == .regular)
            let opened = try Directory.open(FilePath(directory))
            defer { opened.close() }
            #expect(try opened.status(of: name)?.size == 1)
            #expect(try opened.remove(name))
            #expect(try opened.status(of: name) == nil)
        }
    }

    @Test("listing skips . and .., and with skippingHidden every dotfile")
    func listing() throws {
        try withTemporaryDirectory { directory in
            try FileSystem.writeNewFile(FilePath(directory + "/.hidden"), [])
            try FileSystem.writeNewFile(FilePath(directory + "/shown"), [])
            try FileSystem.createDirectory(FilePath(directory + "/sub"))
            let all = Set(
                try FileSystem.entries(of: FilePath(directory)).map { String(decoding: $0.name, as: UTF8.self) }
            )
            #expect(all == [".hidden", "shown", "sub"])
            let visible = try FileSystem.entries(of: FilePath(directory), skippingHidden: true)
            #expect(Set(visible.map { String(decoding: $0.name, as: UTF8.self) }) == ["shown", "sub"])
            #expect(visible.first { $0.name == Array("sub".utf8) }?.mayBeRegularFile == false)
        }
    }

    @Test("mkdir -p creates what is missing and refuses a file in the way")
    func createDirectories() throws {
        try withTemporaryDirectory { directory in
            try FileSystem.createDirectories(FilePath(directory + "/a/b/c"))
            #expect(FileSystem.isDirectory(FilePath(directory + "/a/b/c")))
            try FileSystem.createDirectories(FilePath(directory + "/a/b/c"))
            try FileSystem.writeNewFile(FilePath(directory + "/f"), [])
            #expect(throws: FileIOError.self) { try FileSystem.createDirectories(FilePath(directory + "/f/g")) }
        }
    }

    @Test("an atomic replace keeps the old mode, and a failed one leaves the old file and no temporary")
    func atomicReplace() throws {
        struct Stop: Error {}
        try withTemporaryDirectory { directory in
            let path = FilePath(directory + "/file")
            try FileSystem.replaceAtomically(path, with: Array("one".utf8))
            #expect(try FileSystem.status(path)?.permissions == 0o600)
            #expect(chmod(directory + "/file", 0o640) == 0)
            try FileSystem.replaceAtomically(path, with: Array("two".utf8))
            #expect(try FileSystem.readFile(path) == Array("two".utf8))
            #expect(try FileSystem.status(path)?.permissions == 0o640)
            #expect(throws: Stop.self) {
                try FileSystem.replaceAtomically(path) { file in
                    try file.write(Array("half".utf8))
                    throw Stop()
                }
            }
            #expect(try FileSystem.readFile(path) == Array("two".utf8))
            #expect(try FileSystem.entries(of: FilePath(directory)).count == 1, "no temporary file is left")
            // A fixed temporary name: a leftover of a crash is replaced.
            try FileSystem.writeNewFile(FilePath(directory + "/file.tmp"), Array("leftover".utf8))
            try FileSystem.replaceAtomically(
                path,
                with: Array("three".utf8),
                temporary: FilePath(directory + "/file.tmp")
            )
            #expect(try FileSystem.readFile(path) == Array("three".utf8))
            #expect(try FileSystem.status(FilePath(directory + "/file.tmp")) == nil)
        }
    }

    @Test("setTimes sets the modification time; a missing file is an error naming it")
    func setTimes() throws {
        try withTemporaryDirectory { directory in
            let path = FilePath(directory).appending("message")
            try FileSystem.writeNewFile(path, Array("x".utf8))
            try FileSystem.setTimes(path, to: FileTime(seconds: 1_700_000_123, nanoseconds: 456))
            #expect(try FileSystem.status(path)?.modification == FileTime(seconds: 1_700_000_123, nanoseconds: 456))
            let missing = FilePath(directory).appending("missing")
            let error = #expect(throws: FileIOError.self) {
                try FileSystem.setTimes(missing, to: FileTime(seconds: 1))
            }
            #expect(error?.isNotFound == true)
        }
    }

    @Test("reads stop at a limit; writes at an offset leave the rest")
    func readsAndWrites() throws {
        try withTemporaryDirectory { directory in
            let path = FilePath(directory + "/file")
            try FileSystem.writeNewFile(path, Array(repeating: UInt8(ascii: "a"), count: 100_000))
            let error = #expect(throws: FileIOError.self) { _ = try FileSystem.readFile(path, limit: 99_999) }
            #expect(error?.isTooLarge == true)
            #expect(try FileSystem.readFile(path, limit: 100_000).count == 100_000)
            let file = try File.open(path, .readWrite)
            defer { file.closeQuietly() }
            try file.write(Array("xyz".utf8), at: 99_998)
            #expect(try file.read(count: 10, at: 99_995) == Array("aaaxyz".utf8))
            #expect(try file.seekToEnd() == 100_001)
            #expect(try file.lock(wait: false))
            let second = try File.open(path, .readOnly)
            defer { second.closeQuietly() }
            #expect(try !second.lock(wait: false), "flock conflicts between open file descriptions")
        }
    }

    @Test("concurrentMap keeps the inputs' order; a dedicated pool runs work off the caller's thread")
    func pools() async {
        let pool = BlockingThreadPool(threadCount: 2)
        let squares = pool.concurrentMap(Array(0..<500)) { $0 * $0 }
        #expect(squares == (0..<500).map { $0 * $0 })
        #expect(pool.concurrentMap([Int]()) { $0 }.isEmpty)
        let results = await withTaskGroup(of: Int.self) { group in
            for value in 0..<20 {
                group.addTask { await pool.run { value + 1 } }
            }
            return await group.reduce(0, +)
        }
        #expect(results == (1...20).reduce(0, +))
    }

    @Test(
        "concurrentMap finishes even when every thread of the pool is calling it",
        .timeLimit(.minutes(1))
    )
    func concurrentMapInsidePool() async {
        let pool = BlockingThreadPool(threadCount: 2)
        let sums = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    await pool.run { pool.concurrentMap(Array(0..<50)) { $0 }.reduce(0, +) }
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(sums == Array(repeating: 1225, count: 64))
    }
}
