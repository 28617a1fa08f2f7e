// File-system helpers for the MailStore tests: temporary directories and plain file I/O,
// through libc (the module under test uses no Foundation, and neither do its tests).

import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

struct TestFileError: Error, CustomStringConvertible {
    var description: String
}

enum TestFiles {
    /// Runs `body` with a new empty directory, removed afterwards.
    static func withTemporaryDirectory<R>(_ body: (String) async throws -> R) async throws -> R {
        var template = Array("/tmp/postoffice-mailstore-XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestFileError(description: "mkdtemp failed: \(errno)")
        }
        let path = String(cString: created)
        defer { removeTree(path) }
        return try await body(path)
    }

    static func makeDirectory(_ path: String) throws {
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw TestFileError(description: "mkdir \(path): \(errno)")
        }
    }

    /// Creates `cur/`, `new/` and `tmp/` under `root` (and `root` itself).
    static func makeMaildir(_ root: String) throws {
        try makeDirectory(root)
        for sub in ["cur", "new", "tmp"] {
            try makeDirectory(root + "/" + sub)
        }
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw TestFileError(description: "open \(path): \(errno)") }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { throw TestFileError(description: "write \(path): \(errno)") }
            offset += written
        }
    }

    static func writeFile(_ path: String, _ text: String) throws {
        try writeFile(path, Array(text.utf8))
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TestFileError(description: "open \(path): \(errno)") }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count >= 0 else { throw TestFileError(description: "read \(path): \(errno)") }
            if count == 0 {
                return result
            }
            result += chunk[..<count]
        }
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    static func renameFile(_ from: String, _ to: String) throws {
        guard rename(from, to) == 0 else { throw TestFileError(description: "rename \(from): \(errno)") }
    }

    static func removeFile(_ path: String) throws {
        guard unlink(path) == 0 else { throw TestFileError(description: "unlink \(path): \(errno)") }
    }

    /// Sets a file's modification time (seconds since 1970).
    static func setModificationTime(_ path: String, seconds: Int) throws {
        var times = [
            timespec(tv_sec: seconds, tv_nsec: 0),
            timespec(tv_sec: seconds, tv_nsec: 0),
        ]
        guard utimensat(AT_FDCWD, path, &times, 0) == 0 else {
            throw TestFileError(description: "utimensat \(path): \(errno)")
        }
    }

    /// The names in a directory, without `.` and `..`, sorted.
    static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else { throw TestFileError(description: "opendir \(path): \(errno)") }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != ".", name != ".." {
                names.append(name)
            }
        }
        return names.sorted()
    }

    /// `rm -rf path`.
    static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR {
            chmod(path, 0o700)
            for name in (try? list(path)) ?? [] {
                removeTree(path + "/" + name)
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// LF → CRLF for every LF not already after a CR: the reference for CRLF sizes.
    static func crlfConverted(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var previous: UInt8? = nil
        for byte in bytes {
            if byte == 0x0A, previous != 0x0D {
                out.append(0x0D)
            }
            out.append(byte)
            previous = byte
        }
        // The last line is sent with a line end (RFC 1939 §3): a trailing CR gets its LF,
        // anything else but LF gets CRLF.
        switch previous {
        case nil, 0x0A?: break
        case 0x0D?: out.append(0x0A)
        case _?: out.append(contentsOf: [0x0D, 0x0A])
        }
        return out
    }
}
