import FileIO
import GRDB
import MailStore
import SystemPackage

/// The outcome of ``OfflineMailbox/verify(updateManifest:)``.
public struct VerifyReport: Sendable {
    /// One finding about one message.
    public struct Finding: Sendable, Equatable {
        public enum Kind: String, Sendable, CaseIterable {
            /// The file could not be read.
            case unreadable
            /// Nothing in it reads as a message header.
            case unparseable
            /// The SHA-256 differs from the manifest: bit rot or tampering.
            case digestMismatch = "digest mismatch"
            /// Listed in the manifest, but no longer in the store.
            case missing
            /// Not in the manifest (a warning). The index records a message's digest the first
            /// time it sees it, so this means the manifest could not be written then;
            /// `--update-manifest` records it.
            case notInManifest = "not in manifest"
            /// Readable, with structural defects worked around (a warning).
            case defects

            /// Whether findings of this kind are failures (the rest are warnings).
            public var isFailure: Bool {
                switch self {
                case .unreadable, .unparseable, .digestMismatch, .missing: return true
                case .notInManifest, .defects: return false
                }
            }
        }

        /// The short ID, when the message is in the index.
        public var id: String?
        /// Folder-relative name (`new/NAME`, `.Folder/cur/NAME`) or the manifest's name.
        public var name: String
        public var kind: Kind
        public var detail: String

        /// Failures make `mail verify` exit non-zero; warnings do not.
        public var isFailure: Bool { kind.isFailure }
    }

    /// Messages read and checked.
    public var checked = 0
    /// Manifest lines added or dropped by `--update-manifest`.
    public var manifestChanges = 0
    public var findings: [Finding] = []

    public var failures: [Finding] { findings.filter(\.isFailure) }
    public var isSuccess: Bool { failures.isEmpty }

    /// How many findings of each kind (failures and warnings), in the order of ``Finding/Kind``'s
    /// cases; kinds with none are left out.
    public var countsByKind: [(kind: Finding.Kind, count: Int)] {
        Finding.Kind.allCases.compactMap { kind in
            let count = findings.count { $0.kind == kind }
            return count > 0 ? (kind, count) : nil
        }
    }
}

extension OfflineMailbox {
    /// Reads every message: it must be readable and parse as a message, and its SHA-256 must
    /// equal the manifest's. With `updateManifest`, unrecorded messages are recorded and
    /// entries of vanished messages dropped; mismatches are never overwritten.
    public func verify(updateManifest: Bool) throws -> VerifyReport {
        try synchronize()
        var report = VerifyReport()
        switch store {
        case .maildir(let root):
            for folder in MaildirFolder.all(root: root) {
                try verifyFolder(root: root, folder: folder, update: updateManifest, into: &report)
            }
        case .mbox(let path):
            try verifyMbox(path: path, update: updateManifest, into: &report)
        }
        return report
    }

    private func shortID(digest: String) -> String? {
        try? index.database.read { db in
            try String.fetchOne(db, sql: "SELECT short_id FROM message WHERE digest = ?", arguments: [digest])
        }
    }

    private func verifyFolder(root: String, folder: String, update: Bool, into report: inout VerifyReport) throws {
        let maildir = MaildirFolder.maildir(root: root, folder: folder)
        let manifestPath = maildir.root.appending(Manifest.fileName)
        var manifest = try Manifest.read(manifestPath)
        var seen = Set<String>()
        var changes = 0
        let prefix = folder.isEmpty ? "" : ".\(folder)/"
        for subdirectory in MaildirSubdirectory.allCases {
            guard FileSystem.isDirectory(maildir.path(of: subdirectory)) else { continue }
            for fileName in try maildir.messages(in: subdirectory).sorted(by: {
                $0.bytes.lexicographicallyPrecedes($1.bytes)
            }) {
                let location = MaildirLocation(subdirectory: subdirectory, name: fileName)
                let path = maildir.path(of: location)
                guard (try? FileSystem.status(path))?.isRegularFile == true else { continue }
                let uniqueName = String(decoding: fileName.baseName, as: UTF8.self)
                seen.insert(uniqueName)
                let id = shortID(
                    digest: MailIndex.sha256Hex(
                        Array(MaildirFolder.digestKey(folder: folder, uniqueName: uniqueName).utf8)
                    )
                )
                let display = prefix + location.relativePath
                report.checked += 1
                guard let bytes = try? FileSystem.readFile(path) else {
                    report.findings.append(.init(id: id, name: display, kind: .unreadable, detail: "cannot be read"))
                    continue
                }
                let digest = MailIndex.sha256Hex(bytes)
                check(bytes, id: id, name: display, into: &report)
                if let recorded = manifest[uniqueName] {
                    if recorded != digest {
                        report.findings.append(
                            .init(
                                id: id,
                                name: display,
                                kind: .digestMismatch,
                                detail: "manifest \(recorded.prefix(16))…, file \(digest.prefix(16))…"
                            )
                        )
                    }
                } else if update {
                    manifest[uniqueName] = digest
                    changes += 1
                } else {
                    report.findings.append(
                        .init(id: id, name: display, kind: .notInManifest, detail: "no recorded digest")
                    )
                }
            }
        }
        for name in manifest.keys.sorted() where !seen.contains(name) {
            if update {
                manifest[name] = nil
                changes += 1
            } else {
                report.findings.append(
                    .init(
                        id: nil,
                        name: prefix + name,
                        kind: .missing,
                        detail: "in the manifest but not in the store"
                    )
                )
            }
        }
        if update, changes > 0 { try Manifest.write(manifest, to: manifestPath) }
        report.manifestChanges += changes
    }

    private func verifyMbox(path: String, update: Bool, into report: inout VerifyReport) throws {
        let manifestPath = FilePath(Self.sidecarPath(forMbox: path, suffix: "postoffice-manifest"))
        var manifest = try Manifest.read(manifestPath)
        var changes = 0
        let summaries = try index.search(SearchQuery(terms: []), folder: nil, limit: nil)
        var seen = Set<String>()
        for summary in summaries {
            report.checked += 1
            let name = "message \(summary.id)"
            guard let bytes = try? rawMessage(summary) else {
                report.findings.append(.init(id: summary.id, name: name, kind: .unreadable, detail: "cannot be read"))
                continue
            }
            check(bytes, id: summary.id, name: name, into: &report)
            seen.insert(summary.digest)
            if manifest[summary.digest] == nil {
                if update {
                    manifest[summary.digest] = summary.digest
                    changes += 1
                } else {
                    report.findings.append(
                        .init(id: summary.id, name: name, kind: .notInManifest, detail: "no recorded digest")
                    )
                }
            }
        }
        for digest in manifest.keys.sorted() where !seen.contains(digest) {
            if update {
                manifest[digest] = nil
                changes += 1
            } else {
                report.findings.append(
                    .init(
                        id: nil,
                        name: "message " + digest.prefix(8),
                        kind: .missing,
                        detail: "in the manifest but not in the mbox (removed or altered)"
                    )
                )
            }
        }
        if update, changes > 0 { try Manifest.write(manifest, to: manifestPath) }
        report.manifestChanges += changes
    }

    /// A message must have a header with at least one field; defects are warnings.
    private func check(_ bytes: [UInt8], id: String?, name: String, into report: inout VerifyReport) {
        let message = MessageParser.parse(bytes)
        if bytes.isEmpty || message.header.fields.isEmpty {
            report.findings.append(
                .init(
                    id: id,
                    name: name,
                    kind: .unparseable,
                    detail: bytes.isEmpty ? "empty file" : "no header fields"
                )
            )
        } else if !message.defects.isEmpty {
            report.findings.append(
                .init(id: id, name: name, kind: .defects, detail: message.defects.prefix(3).joined(separator: "; "))
            )
        }
    }
}
