// A Maildir as the target of `postoffice migrate --to maildir:TEMPLATE`: files named by UIDL.
import FileIO
public import MailStore

/// Writes migrated messages into Maildirs so that the Maildir store gives them the UIDLs they
/// had: the Maildir store uses a file's base name as its UIDL when it is a valid one, so each
/// message is stored (through MailStore's `Maildir`, as every delivery is) as `new/UIDL`. A
/// UIDL that cannot be a file name there (one with `/`, or `:` which starts a Maildir flag
/// suffix, or a leading `.`) is refused.
public struct MaildirMigrationTarget: MigrationTarget {
    public let maildirStore: MaildirStore
    public var store: any MailStore { maildirStore }

    public init(_ store: MaildirStore) {
        self.maildirStore = store
    }

    public func uniqueIDs(user: String) async throws -> Set<String> {
        let maildir = Maildir(path: try maildirStore.maildirPath(for: user))
        return try await BlockingIO.run {
            guard maildir.looksLikeMaildir else { return [] }
            do {
                return Set(try maildir.listMessages().keys.map { String(decoding: $0, as: UTF8.self) })
            } catch {
                throw MailStoreError.io("\(error)")
            }
        }
    }

    public func store(user: String, uniqueID: String, message: [UInt8]) async throws {
        guard let name = Self.filename(uniqueID) else {
            throw MailStoreError.io("the UIDL '\(uniqueID)' cannot name a Maildir file")
        }
        let maildir = Maildir(path: try maildirStore.maildirPath(for: user))
        let temporaryName = MaildirUniqueName.generate() + ".migrate"
        _ = try await BlockingIO.run {
            do {
                // Already there (a name taken) is what a rerun finds: nothing to do.
                return try maildir.store(
                    message,
                    as: MaildirLocation(subdirectory: .new, name: name),
                    temporaryName: temporaryName
                )
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
