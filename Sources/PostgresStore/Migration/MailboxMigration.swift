// `postoffice migrate`: mailboxes copied between a Maildir tree and PostgreSQL, UIDLs kept,
// resumable, verified by counting and hashing.
import Crypto
import FileIO
public import MailStore
import NIOCore

/// Where a migration writes: a store that can take a message under a given UIDL and skip one it
/// already has (so a migration interrupted half-way is simply run again).
public protocol MigrationTarget: Sendable {
    /// The store itself, read back through the store contract to verify the copy.
    var store: any MailStore { get }
    /// The UIDLs `user`'s maildrop has now.
    func uniqueIDs(user: String) async throws -> Set<String>
    /// Stores `message` as `uniqueID` in `user`'s maildrop.
    func store(user: String, uniqueID: String, message: [UInt8]) async throws
}

extension PostgresMailStore: MigrationTarget {
    public var store: any MailStore { self }

    public func store(user: String, uniqueID: String, message: [UInt8]) async throws {
        _ = try await self.importMessage(user: user, uniqueID: uniqueID, message: message)
    }
}

/// Copies maildrops from one store to another.
///
/// Per user: the source maildrop is opened (its lock taken, so no session changes it meanwhile)
/// and read message by message; each message whose UIDL the target lacks is stored there under
/// that UIDL, in its wire form (RFC 1939 §3: CRLF line ends), so sizes are the same on both sides.
/// Then the target maildrop is opened through the store contract and every source message is
/// checked there: same UIDL, same size, same SHA-256 of the bytes RETR sends. The source is
/// never changed. One message is held in memory at a time.
public struct MailboxMigration: Sendable {
    public let source: any MailStore
    public let target: any MigrationTarget

    public init(source: any MailStore, target: any MigrationTarget) {
        self.source = source
        self.target = target
    }

    /// What happened to one user's maildrop.
    public struct UserReport: Sendable, Hashable {
        public var user: String
        /// Messages in the source maildrop.
        public var messages: Int
        /// Copied by this run.
        public var copied: Int
        /// Already in the target (an earlier run).
        public var alreadyThere: Int
        /// Octets in the source maildrop (POP3 sizes).
        public var octets: Int
        /// Messages the target lacks or has with other bytes after the copy (should be empty).
        public var mismatches: [String]
        /// Messages in the target that the source does not have (mail delivered there meanwhile).
        public var extraInTarget: Int

        public var verified: Bool { mismatches.isEmpty }
    }

    /// Migrates `user`'s maildrop.
    public func migrate(user: String) async throws -> UserReport {
        let existing = try await target.uniqueIDs(user: user)
        var report = UserReport(
            user: user,
            messages: 0,
            copied: 0,
            alreadyThere: 0,
            octets: 0,
            mismatches: [],
            extraInTarget: 0
        )
        var expected: [String: Fingerprint] = [:]
        let maildrop = try await source.openMaildrop(user: user)
        do {
            for (index, message) in maildrop.messages.enumerated() {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(message.size)
                try await maildrop.readContent(at: index) { chunk in bytes += chunk.readableBytesView }
                let wire = WireForm.of(bytes)
                expected[message.uniqueID] = try await BlockingIO.run { Fingerprint(wire) }
                report.messages += 1
                report.octets += message.size
                if existing.contains(message.uniqueID) {
                    report.alreadyThere += 1
                } else {
                    try await target.store(
                        user: user,
                        uniqueID: message.uniqueID,
                        message: Array(wire.readableBytesView)
                    )
                    report.copied += 1
                }
            }
        } catch {
            await maildrop.close()
            throw error
        }
        await maildrop.close()

        let copy = try await target.store.openMaildrop(user: user)
        do {
            var found = Set<String>()
            for (index, message) in copy.messages.enumerated() {
                guard let want = expected[message.uniqueID] else {
                    report.extraInTarget += 1
                    continue
                }
                found.insert(message.uniqueID)
                var bytes: [UInt8] = []
                try await copy.readContent(at: index) { chunk in bytes += chunk.readableBytesView }
                let wire = WireForm.of(bytes)
                let got = try await BlockingIO.run { Fingerprint(wire) }
                if got != want || message.size != want.size {
                    report.mismatches.append(message.uniqueID)
                }
            }
            report.mismatches += expected.keys.filter { !found.contains($0) }.sorted()
        } catch {
            await copy.close()
            throw error
        }
        await copy.close()
        return report
    }

    /// The size and SHA-256 of a message as RETR sends it.
    struct Fingerprint: Sendable, Hashable {
        var size: Int
        var sha256: [UInt8]

        init(_ wire: ByteBuffer) {
            self.size = wire.readableBytes
            self.sha256 = wire.withUnsafeReadableBytes { Array(SHA256.hash(data: $0)) }
        }
    }
}
