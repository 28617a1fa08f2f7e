import Foundation
import MailCore
import NIOCore
import POP3Client

@testable import Fetch

/// An in-memory POP3 maildrop that behaves like a real server where it matters: each session
/// works on a snapshot, `DELE` only marks, and deletions happen only when `QUIT` succeeds.
final class FakeMailServer: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [(uid: String, bytes: [UInt8])]
    var supportsUIDL: Bool
    /// Sessions that ended with QUIT.
    private(set) var quits = 0
    private(set) var sessions = 0
    private var dropInside: String?
    private var hidden: Set<String> = []
    private var listedSizes: [String: Int] = [:]

    /// Makes `LIST` report this size for a message instead of its real one, as a server whose
    /// `RETR` is cut short (or that streams more than it announced) does.
    func list(_ uid: String, asSize size: Int) {
        lock.withLock { listedSizes[uid] = size }
    }

    fileprivate func listedSize(_ uid: String, actual: Int) -> Int {
        lock.withLock { listedSizes[uid] ?? actual }
    }

    private var cutAt: [String: Int] = [:]

    /// Makes `RETR` of this message send only its first `octets` (still ended properly), while
    /// `LIST` reports its whole size, as a server that cuts a message short does (nil: whole).
    func cut(_ uid: String, at octets: Int?) {
        lock.withLock { cutAt[uid] = octets }
    }

    fileprivate func cut(_ uid: String) -> Int? {
        lock.withLock { cutAt[uid] }
    }

    /// Makes sessions leave these messages out of their listing, as a server that briefly lists
    /// a partial maildrop does (empty: list everything).
    func hide(_ uids: Set<String>) {
        lock.withLock { hidden = uids }
    }

    /// Makes sessions drop the connection after the first chunk of this message (nil: never),
    /// as a server that dies mid-`RETR` does.
    func dropConnection(inside uid: String?) {
        lock.withLock { dropInside = uid }
    }

    fileprivate func drops(inside uid: String) -> Bool {
        lock.withLock { dropInside == uid }
    }

    init(_ messages: [(String, String)], supportsUIDL: Bool = true) {
        stored = messages.map { ($0.0, Array($0.1.utf8)) }
        self.supportsUIDL = supportsUIDL
    }

    var uids: [String] { lock.withLock { stored.map(\.uid) } }

    func add(_ uid: String, _ text: String) {
        lock.withLock { stored.append((uid, Array(text.utf8))) }
    }

    fileprivate func snapshot() -> [(uid: String, bytes: [UInt8])] {
        lock.withLock {
            sessions += 1
            return stored.filter { !hidden.contains($0.uid) }
        }
    }

    fileprivate func commit(deleting uids: Set<String>) {
        lock.withLock {
            quits += 1
            stored.removeAll { uids.contains($0.uid) }
        }
    }
}

struct FakeConnector: MailSourceConnector {
    let server: FakeMailServer
    /// Chunk size of streamed content, small to exercise chunk boundaries.
    var chunkSize = 7

    func withSource<R: Sendable>(_ body: (any MailSource) async throws -> R) async throws -> R {
        let session = FakeSession(server: server, snapshot: server.snapshot(), chunkSize: chunkSize)
        // Throwing out of body drops the "connection": no QUIT, nothing deleted.
        return try await body(session)
    }
}

struct FakeError: Error {
    var message: String
}

final class FakeSession: MailSource, @unchecked Sendable {
    let server: FakeMailServer
    let snapshot: [(uid: String, bytes: [UInt8])]
    let chunkSize: Int
    private var deleted: Set<Int> = []
    private var closed = false

    init(server: FakeMailServer, snapshot: [(uid: String, bytes: [UInt8])], chunkSize: Int) {
        self.server = server
        self.snapshot = snapshot
        self.chunkSize = chunkSize
    }

    private func check(_ number: Int) throws {
        guard !closed else { throw FakeError(message: "session closed") }
        guard number >= 1, number <= snapshot.count, !deleted.contains(number) else {
            throw FakeError(message: "-ERR no such message \(number)")
        }
    }

    func list() async throws -> [SourceListEntry] {
        snapshot.enumerated().filter { !deleted.contains($0.offset + 1) }.map {
            SourceListEntry(
                number: $0.offset + 1,
                size: server.listedSize($0.element.uid, actual: $0.element.bytes.count)
            )
        }
    }

    func uidl() async throws -> [SourceUIDLEntry]? {
        guard server.supportsUIDL else { return nil }
        // Fixtures use valid ids (checked in debug builds): `POP3Connection.uidl()` refuses a
        // reply with an id that breaks RFC 1939 §7 as a protocol violation.
        return snapshot.enumerated().filter { !deleted.contains($0.offset + 1) }.map {
            SourceUIDLEntry(number: $0.offset + 1, uniqueID: UniqueID(unchecked: $0.element.uid))
        }
    }

    private func stream(_ number: Int, _ bytes: ArraySlice<UInt8>, _ body: (SourceEvent) async throws -> Void)
        async throws
    {
        try await body(.begin(number: number))
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = min(start + chunkSize, bytes.endIndex)
            try await body(.bytes(ByteBuffer(bytes: bytes[start..<end])))
            start = end
            if server.drops(inside: snapshot[number - 1].uid) {
                closed = true
                throw FakeError(message: "connection reset by peer")
            }
        }
        try await body(.end(number: number))
    }

    /// One message after the other, asking `shouldSend` before each (as a client whose window
    /// holds one command would).
    func retrieve(
        _ messages: [SourceListEntry],
        sendingWhile shouldSend: () -> Bool,
        _ body: (SourceEvent) async throws -> Void
    ) async throws {
        for number in messages.map(\.number) {
            guard shouldSend() else { return }
            try check(number)
            let bytes = snapshot[number - 1].bytes
            let end = min(bytes.count, server.cut(snapshot[number - 1].uid) ?? bytes.count)
            try await stream(number, bytes[0..<end], body)
        }
    }

    func top(_ number: Int, lines: Int, _ body: (SourceEvent) async throws -> Void) async throws {
        try check(number)
        let bytes = snapshot[number - 1].bytes
        var end = bytes.count
        for index in 0..<max(0, bytes.count - 3) where bytes[index..<index + 4].elementsEqual([13, 10, 13, 10]) {
            end = index + 4
            break
        }
        try await stream(number, bytes[0..<end], body)
    }

    func delete(_ numbers: [Int]) async throws {
        for number in numbers {
            try check(number)
            deleted.insert(number)
        }
    }

    func quit() async throws {
        guard !closed else { throw FakeError(message: "session closed") }
        closed = true
        server.commit(deleting: Set(deleted.map { snapshot[$0 - 1].uid }))
    }
}
