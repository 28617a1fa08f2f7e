// What to do about a failed fetch: the engine says what went wrong, this adds the fix a person
// can act on (issue 10: wrong password, no such host, certificate mismatch, no TLS).

import Fetch

enum FetchAdvice {
    /// `failure`'s message with the fix appended, naming the account's password source when
    /// it is known.
    static func message(for failure: FetchFailure, account: FetchAccount? = nil) -> String {
        let message = failure.message
        let lowered = message.lowercased()
        switch failure.kind {
        case .authentication where lowered.contains("refused the login"):
            let password: String =
                switch account?.password {
                case .file(let path)?: "the password in \(path)"
                case .command(let command)?: "the password `\(command)` prints"
                case .environment(let name)?: "the password in $\(name)"
                default: "the password"
                }
            let user = account.map { " (\($0.user))" } ?? ""
            return message + " — check \(password) and the user name\(user); some providers want the whole address"
        case .network where lowered.contains("could not be resolved"):
            return message + " — check the host name for typos; `postoffice account add ADDRESS` finds the "
                + "server of an address"
        case .network where lowered.contains("connection refused"):
            return message + " — check the port (995 is for implicit TLS, 110 for STLS) and that the server runs"
        case .tls where lowered.contains("does not offer stls"):
            return message + " (port 995 with implicit TLS usually works: --tls implicit)"
        default:
            return message
        }
    }
}
