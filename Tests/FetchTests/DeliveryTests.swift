import Foundation
import MailCore
import NIOCore
import Testing

@testable import Fetch

@Suite("Delivery")
struct DeliveryTests {
    @Test("the delivery key hash is fixed")
    func keyHash() {
        let key = DeliveryKey(account: "alice@pop.example.org", uniqueID: "uid-1")
        #expect(key.hash.count == 32)
        #expect(key.hash == DeliveryKey(account: "alice@pop.example.org", uniqueID: "uid-1").hash)
        #expect(key.hash != DeliveryKey(account: "alice@pop.example.org", uniqueID: "uid-1", generation: 1).hash)
        #expect(key.hash != DeliveryKey(account: "bob@pop.example.org", uniqueID: "uid-1").hash)
        // Pinned: changing the derivation would stop recognising copies stored by older versions.
        #expect(key.hash == Self.referenceHash("alice@pop.example.org\u{0}uid-1"))
    }

    static func referenceHash(_ text: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c", "import hashlib,sys;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:32])",
        ]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try? process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try? input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("a Maildir copy is found by its hash in new/ or cur/ (with flags)")
    func maildirLookup() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let key = DeliveryKey(account: "a@h", uniqueID: "u")
        let deliverer = try MaildirDeliverer(path: directory.path + "/M")
        #expect(try deliverer.existingLocation(of: key) == nil)
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory.path + "/M/cur/123.\(key.hash).host,S=1:2,S"))
        let fresh = try MaildirDeliverer(path: directory.path + "/M")
        #expect(try fresh.existingLocation(of: key)?.hasSuffix(":2,S") == true)
        #expect(try fresh.existingLocation(of: DeliveryKey(account: "a@h", uniqueID: "other")) == nil)
    }

    static func deliver(_ deliverer: any Deliverer, uid: String, text: String) throws -> String {
        let envelope = DeliveryEnvelope(
            key: DeliveryKey(account: "a@h", uniqueID: UniqueID(unchecked: uid)),
            serverHost: "h",
            user: "a",
            receivedAt: 1_700_000_000
        )
        let writer = try deliverer.makeWriter(for: envelope, replacing: false)
        try writer.write(ByteBuffer(string: text))
        try writer.sync()
        return try writer.commit()
    }

    @Test("mbox: an appended but unrecorded message is recognised; body text cannot fake it")
    func mboxRecognition() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/mbox"
        let fake = DeliveryKey(account: "a@h", uniqueID: "faked").hash
        let text = "Subject: s\r\n\r\nFrom x\r\nX-PostOffice-Key: \(fake) 000000000010\r\n"
        let location = try Self.deliver(try MboxDeliverer(path: path), uid: "real", text: text)
        #expect(location.hasPrefix("mbox:0:"))
        let second = try Self.deliver(try MboxDeliverer(path: path), uid: "two", text: "S: 2\r\n\r\nb\r\n")
        let fresh = try MboxDeliverer(path: path)
        #expect(try fresh.existingLocation(of: DeliveryKey(account: "a@h", uniqueID: "real")) == location)
        #expect(try fresh.existingLocation(of: DeliveryKey(account: "a@h", uniqueID: "two")) == second)
        #expect(try fresh.existingLocation(of: DeliveryKey(account: "a@h", uniqueID: "faked")) == nil)
    }

    @Test("mbox: an entry torn by a crash mid-append is truncated away")
    func mboxTorn() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/mbox"
        _ = try Self.deliver(try MboxDeliverer(path: path), uid: "one", text: "S: 1\r\n\r\na\r\n")
        let intact = try Data(contentsOf: URL(fileURLWithPath: path))
        _ = try Self.deliver(try MboxDeliverer(path: path), uid: "two", text: "S: 2\r\n\r\nbbbbbbbbbbbbbbbbbb\r\n")
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        // Keep only part of the second entry, as a crash during the append would.
        try full.prefix(intact.count + 120).write(to: URL(fileURLWithPath: path))
        let fresh = try MboxDeliverer(path: path)
        #expect(try fresh.existingLocation(of: DeliveryKey(account: "a@h", uniqueID: "two")) == nil)
        #expect(try fresh.existingLocation(of: DeliveryKey(account: "a@h", uniqueID: "one")) != nil)
        #expect(fresh.truncatedTornEntry)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == intact)
    }

    @Test("mbox: a torn entry followed by another program's message is left alone, never cut")
    func mboxTornThenForeignAppend() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/mbox"
        _ = try Self.deliver(try MboxDeliverer(path: path), uid: "one", text: "S: 1\r\n\r\na\r\n")
        let intact = try Data(contentsOf: URL(fileURLWithPath: path))
        let body = String(repeating: "b", count: 4000)
        _ = try Self.deliver(try MboxDeliverer(path: path), uid: "two", text: "S: 2\r\n\r\n\(body)\r\n")
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        // Torn mid-append, then the system's mail delivery appends a short message of its own.
        let foreign = Data("\nFrom mailer@example.org Sun Nov 22 05:00:00 2026\nSubject: local\n\nkeep me\n\n".utf8)
        try (full.prefix(intact.count + 120) + foreign).write(to: URL(fileURLWithPath: path))
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let fresh = try MboxDeliverer(path: path)
        #expect(try fresh.existingLocation(of: DeliveryKey(account: "a@h", uniqueID: "two")) == nil)
        #expect(!fresh.truncatedTornEntry)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "the other program's message is kept")
    }

    @Test("mbox: the spool file of an entry appended before a crash is removed by the next run")
    func mboxLeftoverSpool() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/mbox"
        let key = DeliveryKey(account: "a@h", uniqueID: "one")
        _ = try Self.deliver(try MboxDeliverer(path: path), uid: "one", text: "S: 1\r\n\r\na\r\n")
        // As a kill between the append's fsync and the spool's removal leaves it.
        let leftover = directory.path + "/.mbox.postoffice-\(key.hash).tmp"
        let unrelated = directory.path + "/.mbox.postoffice-\(DeliveryKey(account: "a@h", uniqueID: "two").hash).tmp"
        for file in [leftover, unrelated] {
            #expect(FileManager.default.createFile(atPath: file, contents: Data("partial".utf8)))
        }
        let fresh = try MboxDeliverer(path: path)
        #expect(try fresh.existingLocation(of: key) != nil)
        #expect(!FileManager.default.fileExists(atPath: leftover))
        // A spool of a message not in the mbox is left to its own (re)download.
        #expect(FileManager.default.fileExists(atPath: unrelated))
    }

    @Test("mbox: two deliverers of one process appending to one file at once take turns")
    func mboxConcurrentAppends() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path + "/mbox"
        let perWriter = 150
        // fcntl record locks belong to the process, so they do not exclude these two.
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            guard let deliverer = try? MboxDeliverer(path: path) else { return }
            for index in 0..<perWriter {
                _ = try? Self.deliver(
                    deliverer,
                    uid: "w\(writer)-\(index)",
                    text: "S: \(writer) \(index)\r\n\r\nbody\r\n"
                )
            }
        }
        let stored = try mboxMessages(path).map(\.uid)
        let expected = (0..<2).flatMap { writer in (0..<perWriter).map { "w\(writer)-\($0)" } }
        #expect(stored.count == expected.count)
        #expect(Set(expected).subtracting(stored).sorted() == [], "overwritten by the other writer")
        let fresh = try MboxDeliverer(path: path)
        let unrecognised = try expected.filter {
            try fresh.existingLocation(of: DeliveryKey(account: "a@h", uniqueID: UniqueID(unchecked: $0))) == nil
        }
        #expect(unrecognised == [])
    }

    @Test("the trace header has an RFC 5322 date")
    func traceHeader() {
        let envelope = DeliveryEnvelope(
            key: DeliveryKey(account: "a@h", uniqueID: "u-1"),
            serverHost: "pop.example.org",
            user: "alice smith",
            receivedAt: 0
        )
        let text = String(decoding: TraceHeader.lines(for: envelope), as: UTF8.self)
        #expect(
            text
                == "Received: from pop.example.org by postoffice (POP3) for <alice_smith>; Thu, 01 Jan 1970 00:00:00 +0000\nX-PostOffice-UIDL: u-1\n"
        )
    }

    @Test("delivery targets parse from the command line form")
    func targetArgument() {
        #expect(DeliveryTarget(argument: "maildir:/m") == .maildir(path: "/m"))
        #expect(DeliveryTarget(argument: "mbox:/var/mail/a") == .mbox(path: "/var/mail/a"))
        #expect(DeliveryTarget(argument: "mda:procmail -d a") == .mda(command: "procmail -d a"))
        #expect(DeliveryTarget(argument: "mda:") == nil)
        #expect(DeliveryTarget(argument: "imap:x") == nil)
    }
}
