// `postoffice migrate`: mailboxes copied between a Maildir tree and PostgreSQL, UIDLs, flags and
// delivery times kept, resumable, verified by counting and hashing.
import Crypto
import FileIO
public import MailCore
public import MailStore
import NIOCore

/// What a migration keeps of a message besides its bytes and its UIDL: whether a reader has
/// seen it and its Maildir flags, and when it was delivered. The delivery time is what POP3's
/// EXPIRE policy (RFC 2449 §6.7) counts from; the seen state and flags are what other readers
/// of a Maildir (and a policy on retrieved mail) go by.
public struct MessageAttributes: Sendable, Hashable {
    /// The Maildir info flags (`:2,FLAGS`, for example `RS`) of a message a reader has seen
    /// (kept in `cur/`, with or without flags); `nil` for one not seen yet (`new/`).
    public var maildirFlags: String?
    /// When it was delivered, in whole seconds since 1970; `nil` when unknown (then the target
    /// takes the time of the copy).
    public var deliveredAt: Int?

    public init(maildirFlags: String? = nil, deliveredAt: Int? = nil) {
        self.maildirFlags = maildirFlags.map { String(decoding: Set($0.utf8).sorted(), as: UTF8.self) }
        self.deliveredAt = deliveredAt
    }
}

/// One message on its way from one store to another: its UIDL, its bytes in wire form and its
/// attributes.
public struct MigratedMessage: Sendable, Hashable {
    public var uniqueID: UniqueID
    public var message: [UInt8]
    public var attributes: MessageAttributes

    public init(uniqueID: UniqueID, message: [UInt8], attributes: MessageAttributes = MessageAttributes()) {
        self.uniqueID = uniqueID
        self.message = message
        self.attributes = attributes
    }
}

/// A store a migration reads from or writes to: it can list its messages' UIDLs and attributes,
/// and take messages under given UIDLs (so a migration interrupted half-way is run again and
/// skips what is already there).
public protocol MigrationStore: Sendable {
    /// The store itself, through whose contract messages are read (and the copy verified).
    var store: any MailStore { get }
    /// Each message of `user`'s maildrop now, by UIDL, with its attributes.
    func attributes(user: String) async throws -> [UniqueID: MessageAttributes]
    /// Stores `messages` in `user`'s maildrop, each as its UIDL with its attributes, durably
    /// before it returns.
    func store(user: String, messages: [MigratedMessage]) async throws
}

extension PostgresMailStore: MigrationStore {
    public var store: any MailStore { self }

    public func store(user: String, messages: [MigratedMessage]) async throws {
        _ = try await self.importMessages(user: user, messages)
    }
}

/// Copies maildrops from one store to another.
///
/// Per user: the source maildrop is opened (its lock taken, so no session changes it meanwhile)
/// and read message by message; each message whose UIDL the target lacks is stored there under
/// that UIDL, in its wire form (RFC 1939 §3: CRLF line ends), so sizes are the same on both sides,
/// with its attributes (``MessageAttributes``), in batches of at most ``batchMessages`` messages
/// or ``batchOctets`` octets (the batch that holds one larger message holds only it): a batch is
/// one transaction in PostgreSQL, so a migration costs a commit per batch, not per message, and
/// an interrupted one loses at most its last batch. Then the target maildrop is opened through
/// the store contract and every source message is checked there: same UIDL, same size, same
/// SHA-256 of the bytes RETR sends, and, for the messages this run copied, the same attributes.
/// The source is never changed, nor is a message the target already had.
public struct MailboxMigration: Sendable {
    public let source: any MigrationStore
    public let target: any MigrationStore

    /// The most messages stored in one batch.
    public static let batchMessages = 200
    /// The most octets a batch holds before it is stored (4 MiB): what a migration keeps in
    /// memory at once, besides one larger message.
    public static let batchOctets = 4 << 20

    public init(source: any MigrationStore, target: any MigrationStore) {
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
        /// Messages seen by a reader (with Maildir flags) among them.
        public var seen: Int
        /// Messages the target lacks, or has with other bytes or attributes, after the copy
        /// (should be empty).
        public var mismatches: [UniqueID]
        /// Messages in the target that the source does not have (mail delivered there meanwhile).
        public var extraInTarget: Int

        public var verified: Bool { mismatches.isEmpty }
    }

    /// Migrates `user`'s maildrop.
    public func migrate(user: String) async throws -> UserReport {
        let existing = try await target.attributes(user: user)
        var report = UserReport(
            user: user,
            messages: 0,
            copied: 0,
            alreadyThere: 0,
            octets: 0,
            seen: 0,
            mismatches: [],
            extraInTarget: 0
        )
        var expected: [UniqueID: Fingerprint] = [:]
        var copiedAttributes: [UniqueID: MessageAttributes] = [:]
        var batch: [MigratedMessage] = []
        var batchOctets = 0
        let maildrop = try await source.store.openMaildrop(user: user)
        do {
            // Read with the maildrop locked, so they are those of the messages listed.
            let attributes = try await source.attributes(user: user)
            for (index, message) in maildrop.messages.enumerated() {
                if !batch.isEmpty, batch.count >= Self.batchMessages || batchOctets + message.size > Self.batchOctets {
                    try await target.store(user: user, messages: batch)
                    batch.removeAll(keepingCapacity: true)
                    batchOctets = 0
                }
                var bytes: [UInt8] = []
                bytes.reserveCapacity(message.size)
                try await maildrop.readContent(at: index) { chunk in bytes += chunk.readableBytesView }
                let wire = WireForm.of(bytes)
                expected[message.uniqueID] = try await BlockingIO.run { Fingerprint(wire) }
                var kept = attributes[message.uniqueID] ?? MessageAttributes()
                // The store's own idea of the arrival (a Maildir's comes from the name's
                // delivery time, not the file's time) wins.
                if let arrival = message.arrival { kept.deliveredAt = arrival }
                report.messages += 1
                report.octets += message.size
                if kept.maildirFlags != nil { report.seen += 1 }
                if existing[message.uniqueID] != nil {
                    report.alreadyThere += 1
                } else {
                    batch.append(
                        MigratedMessage(
                            uniqueID: message.uniqueID,
                            message: Array(wire.readableBytesView),
                            attributes: kept
                        )
                    )
                    batchOctets += wire.readableBytes
                    copiedAttributes[message.uniqueID] = kept
                    report.copied += 1
                }
            }
            if !batch.isEmpty {
                try await target.store(user: user, messages: batch)
            }
        } catch {
            await maildrop.close()
            throw error
        }
        await maildrop.close()

        let copy = try await target.store.openMaildrop(user: user)
        do {
            let attributes = try await target.attributes(user: user)
            var found = Set<UniqueID>()
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
                var same = got == want && message.size == want.size
                if let kept = copiedAttributes[message.uniqueID] {
                    same = same && Self.agree(kept, attributes[message.uniqueID])
                }
                if !same { report.mismatches.append(message.uniqueID) }
            }
            report.mismatches += expected.keys.filter { !found.contains($0) }.sorted()
        } catch {
            await copy.close()
            throw error
        }
        await copy.close()
        return report
    }

    /// Whether the target kept what was stored: the same seen state and flags, and the
    /// delivery time when the source knew it.
    static func agree(_ stored: MessageAttributes, _ found: MessageAttributes?) -> Bool {
        guard let found, found.maildirFlags == stored.maildirFlags else { return false }
        guard let time = stored.deliveredAt else { return true }
        return found.deliveredAt == time
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
