// A Maildir tree as either side of `postoffice migrate`: files named by UIDL, flags and times kept.
import FileIO
public import MailCore
public import MailStore

/// The Maildir store as a side of a migration.
///
/// As a source it reports each message's attributes from its file: `cur/` with its `:2,` flags
/// (a message a reader has seen) or `new/`, and its modification time as the delivery time.
///
/// As a target it writes each message so that the Maildir store gives it the UIDL it had: the
/// Maildir store uses a file's base name as its UIDL when it is a valid one, so the message is
/// stored (through MailStore's `Maildir`, as every delivery is) as `new/UIDL`, or as
/// `cur/UIDL:2,FLAGS` when it had been seen, with its delivery time as the file's time. A UIDL
/// that cannot be a file name there (one with `/`, or `:` which starts the flags, or a leading
/// `.`) is refused. A name that states its file's size (`,S=`) gets a file of that size (see
/// ``storedForm(of:name:)``); other messages are written in wire form, which RETR sends unchanged.
public struct MaildirMigrationStore: MigrationStore {
    public let maildirStore: MaildirStore
    public var store: any MailStore { maildirStore }

    public init(_ store: MaildirStore) {
        self.maildirStore = store
    }

    public func attributes(user: String) async throws -> [UniqueID: MessageAttributes] {
        let store = self.maildirStore
        let entries = try await BlockingIO.run { try store.entries(user: user) }
        var attributes: [UniqueID: MessageAttributes] = [:]
        attributes.reserveCapacity(entries.count)
        for entry in entries {
            let flags: String?
            switch entry.location.subdirectory {
            case .new: flags = nil
            case .cur: flags = String(decoding: entry.location.name.flags ?? [], as: UTF8.self)
            }
            attributes[entry.uniqueID] = MessageAttributes(
                maildirFlags: flags,
                deliveredAt: entry.modificationTime.seconds
            )
        }
        return attributes
    }

    /// Stores each message as a file of its own (each one fsynced with its directory, as a
    /// delivery is), in one trip to the blocking-I/O threads for the batch.
    public func store(user: String, messages: [MigratedMessage]) async throws {
        let placed = try messages.map { message in
            guard let name = Self.filename(message.uniqueID) else {
                throw MailStoreError.io("the UIDL '\(message.uniqueID)' cannot name a Maildir file")
            }
            let location: MaildirLocation
            if let flags = message.attributes.maildirFlags {
                location = MaildirLocation(subdirectory: .cur, name: name.withFlags(flags))
            } else {
                location = MaildirLocation(subdirectory: .new, name: name)
            }
            let bytes = Self.storedForm(of: message.message, name: name)
            return (bytes, location, message.attributes.deliveredAt.map { FileTime(seconds: $0) })
        }
        let maildir = Maildir(path: try maildirStore.maildirPath(for: user))
        try await BlockingIO.run {
            do {
                for (bytes, location, time) in placed {
                    // Already there (a name taken) is what a rerun finds: nothing to do.
                    _ = try maildir.store(
                        bytes,
                        as: location,
                        temporaryName: MaildirUniqueName.generate() + ".migrate",
                        modificationTime: time
                    )
                }
            } catch let error as MailStoreError {
                throw error
            } catch {
                throw MailStoreError.io("\(error)")
            }
        }
    }

    /// The bytes to store for a message in wire form under `name`. A name that states the
    /// stored size (`,S=`, as a Maildir writer gave it) is kept true: the message goes back with
    /// LF line ends (and without the line end RETR adds to an unterminated last line) when that
    /// has the stated size, as the file it came from had. Otherwise the wire form is stored,
    /// which RETR sends unchanged.
    static func storedForm(of wire: [UInt8], name: MaildirFilename) -> [UInt8] {
        guard let size = name.size, size != wire.count else { return wire }
        var transform = LocalTextTransform(quoteFromLines: false)
        var local: [UInt8] = []
        local.reserveCapacity(wire.count)
        transform.transform(wire, into: &local)
        transform.finish(into: &local)
        if local.count == size + 1, local.last == UInt8(ascii: "\n") {
            local.removeLast()
        }
        return local.count == size ? local : wire
    }

    /// The file name whose base name is `uniqueID`, if there is one.
    static func filename(_ uniqueID: UniqueID) -> MaildirFilename? {
        let text = uniqueID.rawValue
        guard !text.hasPrefix("."), !text.contains("/"), let name = MaildirFilename(parsing: text), name.info == nil
        else { return nil }
        return name
    }
}
