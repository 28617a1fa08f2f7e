// What `postoffice fetch` uses when a flag is not given: the Maildir `postoffice mail` reads,
// and a state file per server account under the XDG state directory (issue 10). HOME and the
// XDG variables decide every path (XDG Base Directory Specification 0.8).

import Fetch
import Foundation

extension XDG {
    /// `name` as one file name: `/`, `%`, control characters and a leading `.` are written as
    /// `%XX`, so a user name can never climb out of the directory or hide the file.
    static func fileNameComponent(_ name: String) -> String {
        var result = ""
        for (offset, scalar) in name.unicodeScalars.enumerated() {
            let unsafe = scalar == "/" || scalar == "%" || scalar.value < 0x20 || scalar.value == 0x7F
            if unsafe || (offset == 0 && scalar == ".") {
                result += String(format: "%%%02X", scalar.value)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result.isEmpty ? "%00" : result
    }

    /// `$XDG_STATE_HOME/postoffice/USER@HOST:PORT.state`: one state per account on one server,
    /// so two accounts, or one user on two servers, never share what was downloaded.
    static func defaultState(user: String, host: String, port: Int) -> String {
        stateHome + "/postoffice/" + fileNameComponent("\(user)@\(host.lowercased()):\(port)") + ".state"
    }
}

extension FetchCommand {
    /// Where mail goes without `--to`: the one Maildir `postoffice mail` reads by default.
    static var defaultTarget: FetchAccountSettings.Target { .maildir(XDG.defaultMaildir(account: "")) }

    /// One line per account: where its mail and its state are, so a first run says where to look.
    static func printLocations(of accounts: [FetchAccount]) {
        for account in accounts {
            let target =
                switch account.target {
                case .maildir(let path): "Maildir \(path)"
                case .mbox(let path): "mbox \(path)"
                case .mda(let command): "the command \(command)"
                }
            say("\(account.name): mail in \(target), state in \(account.statePath)")
        }
    }
}
