// What a run did, per account; encodable for `--json`.

/// The summary of one account's run.
public struct AccountReport: Hashable, Sendable, Codable {
    /// The account's name.
    public var account: String
    /// Messages stored in this run (complete or headers-only).
    public var downloaded: Int = 0
    /// Octets received for them (as the server sent them).
    public var bytes: Int = 0
    /// Messages stored by an interrupted earlier run, found locally and recorded without
    /// downloading again.
    public var recovered: Int = 0
    /// Messages deleted on the server (`DELE` + confirmed `QUIT`).
    public var deleted: Int = 0
    /// Messages left alone (kept, too large, duplicates).
    public var skipped: Int = 0
    /// Messages recorded as seen without downloading (`--mark-seen`) or by an import.
    public var markedSeen: Int = 0
    /// Failures: the account's (then nothing more happened) and per message.
    public var errors: [FetchFailure] = []
    /// Warnings (unique-id reuse, missing UIDL support…).
    public var warnings: [String] = []
    /// The run stopped early because a stop was requested (SIGTERM).
    public var interrupted: Bool = false
    /// Messages stored clearly shorter than the server's `LIST` size: kept on the server, and
    /// downloaded again by the next run (`FetchStateEntry.shortCopy`).
    public var shortCopies: Int = 0
    /// Messages delivered again to a command because an interrupted run handed them over
    /// without learning the outcome: each may have arrived twice.
    public var possibleDuplicates: Int = 0

    public init(account: String) {
        self.account = account
    }

    /// True when nothing failed.
    public var succeeded: Bool { errors.isEmpty }
}

/// The result of `runFetch`.
public struct FetchReport: Hashable, Sendable, Codable {
    public var accounts: [AccountReport]

    public init(accounts: [AccountReport]) {
        self.accounts = accounts
    }

    /// True when every account succeeded.
    public var succeeded: Bool { accounts.allSatisfy(\.succeeded) }

    /// 0 when everything succeeded; otherwise the exit code of the first failure's kind
    /// (`FetchErrorKind.exitCode`).
    public var exitCode: Int32 {
        for account in accounts {
            if let first = account.errors.first {
                return first.kind.exitCode
            }
        }
        return 0
    }
}
