// `serve` started as root: whom to become, and the drop itself (issue 9, part 2).
import Foundation
import Glibc

/// `--run-as USER[:GROUP]`, as given.
struct RunAs: Hashable, Sendable, CustomStringConvertible {
    var user: String
    var group: String?

    init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let user = parts.first, !user.isEmpty else { return nil }
        if parts.count == 2 {
            guard !parts[1].isEmpty else { return nil }
            group = parts[1]
        }
        self.user = user
    }

    var description: String { group.map { "\(user):\($0)" } ?? user }
}

/// A user and group to serve as, looked up in the system's databases.
struct ServiceIdentity: Hashable, Sendable, CustomStringConvertible {
    var userName: String
    var uid: uid_t
    var groupName: String
    var gid: gid_t

    /// The account `serve` drops to by default (a system user the packages or the docs create).
    static let defaultUserName = "postoffice"

    var isRoot: Bool { uid == 0 }

    var description: String { "\(userName):\(groupName) (uid \(uid), gid \(gid))" }

    /// Looks `runAs` up: the user's primary group unless a group is given. Numeric ids are
    /// accepted for users and groups the databases do not name.
    static func lookUp(_ runAs: RunAs) throws -> ServiceIdentity {
        guard let user = UserRecord(name: runAs.user) else {
            throw ConfigError("--run-as: there is no user '\(runAs.user)' (create it: useradd --system \(runAs.user))")
        }
        var identity = ServiceIdentity(userName: user.name, uid: user.uid, groupName: "\(user.gid)", gid: user.gid)
        if let groupName = groupName(user.gid) { identity.groupName = groupName }
        if let group = runAs.group {
            guard let gid = groupID(group) else { throw ConfigError("--run-as: there is no group '\(group)'") }
            identity.gid = gid
            identity.groupName = groupName(gid) ?? group
        }
        return identity
    }

    /// Whom a root `serve` becomes without `--run-as`: the owner of the data directory when
    /// that is not root (an existing installation), else the `postoffice` system user. Nil when
    /// neither exists.
    static func defaultIdentity(dataDirectory: String) -> ServiceIdentity? {
        if let status = FileStatus(path: dataDirectory), status.uid != 0, let owner = UserRecord(uid: status.uid) {
            return try? lookUp(RunAs(parsing: owner.name) ?? RunAs(parsing: "\(status.uid)")!)  // safe: non-empty
        }
        guard UserRecord(name: defaultUserName) != nil else { return nil }
        return try? lookUp(RunAs(parsing: defaultUserName)!)  // safe: a constant, non-empty name
    }

    /// Becomes this user and group for good: supplementary groups to just `gid`, then the group,
    /// then the user (in that order: after `setuid` the others are no longer allowed). Checks
    /// that root cannot be regained. glibc applies each change to every thread of the process.
    func become() throws {
        var groups = [gid]
        guard setgroups(1, &groups) == 0 else { throw Self.failure("setgroups") }
        guard setgid(gid) == 0 else { throw Self.failure("setgid(\(gid))") }
        guard setuid(uid) == 0 else { throw Self.failure("setuid(\(uid))") }
        if uid != 0 {
            guard setuid(0) != 0, geteuid() == uid, getegid() == gid else {
                throw ConfigError("the privilege drop to \(self) did not hold")
            }
        }
    }

    private static func failure(_ call: String) -> ConfigError {
        ConfigError("\(call) failed: \(String(cString: strerror(errno)))")
    }

    static func groupName(_ gid: gid_t) -> String? {
        var group = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getgrgid_r(gid, &group, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        return String(cString: group.gr_name)
    }

    static func groupID(_ name: String) -> gid_t? {
        var group = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        if getgrnam_r(name, &group, &buffer, buffer.count, &result) == 0, result != nil { return group.gr_gid }
        return gid_t(name)
    }
}

/// One entry of the user database.
struct UserRecord {
    var name: String
    var uid: uid_t
    var gid: gid_t

    init?(name: String) {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        if getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0, result != nil {
            self.init(entry)
        } else if let uid = uid_t(name) {
            self.init(uid: uid)
        } else {
            return nil
        }
    }

    init?(uid: uid_t) {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
        self.init(entry)
    }

    private init(_ entry: passwd) {
        name = String(cString: entry.pw_name)
        uid = entry.pw_uid
        gid = entry.pw_gid
    }
}

/// Start-up checks of the files that hold secrets: each finding says what to run to fix it.
enum SecretFilePermissions {
    /// Problems with `path` holding a secret (`what`: "TLS key", "passwd-file"): readable or
    /// writable by every user, or writable by its group. Nil when it is fine or absent.
    static func problem(path: String, what: String) -> String? {
        guard let status = FileStatus(path: path) else { return nil }
        let mode = status.mode & 0o7777
        let octal = String(mode, radix: 8)
        if mode & 0o007 != 0 {
            return
                "the \(what) \(path) is open to every user (mode 0\(octal)): run `chmod o-rwx \(path)` (0640 with the server's group, or 0600)"
        }
        if mode & 0o020 != 0 {
            return "the \(what) \(path) is writable by its group (mode 0\(octal)): run `chmod g-w \(path)`"
        }
        return nil
    }

    /// Whether `identity` will be able to read `path` after the drop (for a reload).
    static func readable(path: String, by identity: ServiceIdentity) -> Bool {
        guard let status = FileStatus(path: path) else { return false }
        if identity.uid == 0 { return true }
        if status.uid == identity.uid { return status.mode & 0o400 != 0 }
        if status.gid == identity.gid { return status.mode & 0o040 != 0 }
        return status.mode & 0o004 != 0
    }
}

/// A file's owner, group and permission bits (stat(2), through FileManager).
struct FileStatus {
    var uid: uid_t
    var gid: gid_t
    var mode: mode_t

    init?(path: String) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let uid = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value,
            let gid = (attributes[.groupOwnerAccountID] as? NSNumber)?.uint32Value,
            let mode = (attributes[.posixPermissions] as? NSNumber)?.uint32Value
        else { return nil }
        self.uid = uid
        self.gid = gid
        self.mode = mode
    }
}
