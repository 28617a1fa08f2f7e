// Errors of PasswdFileEditor (style guide B8: a code plus a redacted message).

/// Why a passwd-file change was refused or failed. The message never holds a password or hash.
public struct PasswdFileEditorError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure; errors compare equal by code.
    public struct Code: Hashable, Sendable {
        private enum Base: Hashable, Sendable {
            case userExists
            case noSuchUser
            case invalidUserName
            case invalidPassword
            case fileSystem
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// `add` for a user already in the file.
        public static let userExists = Code(.userExists)
        /// `setPassword` or `remove` for a user not in the file.
        public static let noSuchUser = Code(.noSuchUser)
        /// The name fails ``UserName/isValid(_:)``.
        public static let invalidUserName = Code(.invalidUserName)
        /// The password cannot be stored in the scheme asked for (see ``PasswordHasher``).
        public static let invalidPassword = Code(.invalidPassword)
        /// Reading, locking or writing the file failed.
        public static let fileSystem = Code(.fileSystem)
    }

    /// What went wrong.
    public var code: Code
    /// A sentence for the person at the command line.
    public var message: String

    public var description: String { message }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
