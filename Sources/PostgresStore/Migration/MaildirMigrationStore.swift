// A Maildir tree as either side of `postoffice migrate`: files named by UIDL, flags and times kept.
import FileIO
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
/// `.`) is refused. Message bytes are written as they come (the wire form, CRLF line ends), so
/// RETR sends them unchanged.
public struct MaildirMigrationStore: MigrationStore {
    public let maildirStore: MaildirStore
    public var store: any MailStore { maildirStore }

    public init(_ store: MaildirStore) {
        self.maildirStore = store
    }

    public func attributes(user: String) async throws -> [String: MessageAttributes] {
        let store = self.maildirStore
        let entries = try await BlockingIO.run { try store.entries(user: user) }
        var attributes: [String: MessageAttributes] = [:]
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

    public func store(
        user: String,
        uniqueID: String,
        message: [UInt8],
        attributes: MessageAttributes
    ) async throws {
        guard let name = Self.filename(uniqueID) else {
            throw MailStoreError.io("the UIDL '\(uniqueID)' cannot name a Maildir file")
        }
        let location: MaildirLocation
        if let flags = attributes.maildirFlags {
            location = MaildirLocation(subdirectory: .cur, name: name.withFlags(flags))
        } else {
            location = MaildirLocation(subdirectory: .new, name: name)
        }
        let maildir = Maildir(path: try maildirStore.maildirPath(for: user))
        let temporaryName = MaildirUniqueName.generate() + ".migrate"
        let time = attributes.deliveredAt.map { FileTime(seconds: $0) }
        _ = try await BlockingIO.run {
            do {
                // Already there (a name taken) is what a rerun finds: nothing to do.
                return try maildir.store(message, as: location, temporaryName: temporaryName, modificationTime: time)
            } catch let error as MailStoreError {
                throw error
            } catch {
                throw MailStoreError.io("\(error)")
            }
        }
    }

    /// The file name whose base name is `uniqueID`, if there is one.
    static func filename(_ uniqueID: String) -> MaildirFilename? {
        guard PostgresMailStore.isValidUniqueID(uniqueID), !uniqueID.hasPrefix("."), !uniqueID.contains("/"),
            let name = MaildirFilename(parsing: uniqueID), name.info == nil
        else { return nil }
        return name
    }
}
