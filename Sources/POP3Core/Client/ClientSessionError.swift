// Why a client session cannot go on.

/// A server reply or a requested command that does not fit the client's state.
///
/// `isPeerFault` tells a server's protocol violation (`true`) from a command the caller
/// should not have sent now (`false`).
public struct ClientSessionError: Error, Hashable, Sendable, CustomStringConvertible {
    public var hint: String
    public var isPeerFault: Bool
    public init(hint: String, isPeerFault: Bool) {
        self.hint = hint
        self.isPeerFault = isPeerFault
    }
    public var description: String { self.hint }

    static func peer(_ hint: String) -> ClientSessionError { ClientSessionError(hint: hint, isPeerFault: true) }
    static func misuse(_ hint: String) -> ClientSessionError { ClientSessionError(hint: hint, isPeerFault: false) }
}
