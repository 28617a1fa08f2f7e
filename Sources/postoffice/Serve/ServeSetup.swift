// `serve`: the files it prepares, and hands over to the user it will serve as.
import Foundation
import Glibc
import LMTPServer
import Logging
import POP3Server

extension ServeCommand {
    /// Creates the data directory and, when accounts are in a passwd-file, an empty one when
    /// missing. Started as root and about to drop to `identity`, the data directory it creates
    /// belongs to that user (the Maildirs are made in it later), and the passwd-file to root
    /// with the user's group able to read it (mode 0640).
    static func prepareDataDirectory(settings: ServerSettings, identity: ServiceIdentity?) throws {
        let files = FileManager.default
        let data = settings.site.dataDirectory
        if !files.fileExists(atPath: data) {
            try files.createDirectory(atPath: data, withIntermediateDirectories: true)
            if let identity {
                try change(data, owner: identity.uid, group: identity.gid, mode: 0o750)
            }
        }
        // Accounts in PostgreSQL: there is no passwd-file to prepare.
        guard settings.site.accountsURL == nil else { return }
        let passwd = settings.site.passwdFile
        if !files.fileExists(atPath: passwd) {
            // An empty passwd-file: the server runs, and `user add` fills it.
            guard files.createFile(atPath: passwd, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw ConfigError("cannot create the passwd-file \(passwd)")
            }
            if let identity { try change(passwd, owner: 0, group: identity.gid, mode: 0o640) }
        }
        if let identity, !SecretFilePermissions.readable(path: passwd, by: identity) {
            throw ConfigError(
                "the passwd-file \(passwd) is not readable by \(identity.userName), whom the server runs as: run `chgrp \(identity.groupName) \(passwd) && chmod 0640 \(passwd)`"
            )
        }
    }

    /// A generated certificate belongs to the user the server runs as, so a reload can read it.
    static func handOver(
        generated tls: POP3ServerConfiguration.TLSFiles,
        settings: ServerSettings,
        to identity: ServiceIdentity
    ) throws {
        guard settings.tlsCertificate == nil else { return }
        let directory = (tls.certificatePath as NSString).deletingLastPathComponent
        for path in [directory, tls.certificatePath, tls.keyPath] {
            guard chown(path, identity.uid, identity.gid) == 0 else {
                throw ConfigError("chown \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// LMTP socket files belong to the user the server runs as, so it can remove them at
    /// shutdown (their mode, 0666, lets the MTA connect).
    static func handOver(lmtpEndpoints: [LMTPServerConfiguration.Endpoint], to identity: ServiceIdentity) throws {
        for case .unix(let path) in lmtpEndpoints {
            guard chown(path, identity.uid, identity.gid) == 0 else {
                throw ConfigError("chown \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// A configured key only root can read serves now (it was read before the drop), but a
    /// SIGHUP cannot load its renewal: say so at start, with the fix.
    static func warnIfUnreadable(
        settings: ServerSettings,
        tls: POP3ServerConfiguration.TLSFiles,
        identity: ServiceIdentity,
        logger: Logger
    ) {
        for path in [tls.certificatePath, tls.keyPath] where !SecretFilePermissions.readable(path: path, by: identity) {
            logger.warning(
                "\(path) is not readable by \(identity.userName): a reload (SIGHUP) cannot load a renewed certificate; run `chgrp \(identity.groupName) \(path) && chmod 0640 \(path)`"
            )
        }
    }

    private static func change(_ path: String, owner: uid_t, group: gid_t, mode: mode_t) throws {
        guard chown(path, owner, group) == 0, chmod(path, mode) == 0 else {
            throw ConfigError("cannot hand \(path) over: \(String(cString: strerror(errno)))")
        }
    }
}
