// POP3Server: the log lines operators and fail2ban rely on. Keep their format stable.

/// Formats the login, login-failure, logout and ban lines.
///
/// Lines (one per event, never a password, SASL payload or message content):
/// ```
/// login ok user=alice peer=127.0.0.1:5123 tls=yes mech=PLAIN
/// login failed user=alice peer=192.0.2.7:40112 tls=no mech=USER reason=invalid-credentials
/// login delayed user=alice peer=127.0.0.1:5124 wait=240s
/// logout user=alice retrieved=2 deleted=1 bytes=4810 duration=1.23s
/// logout user=bob retrieved=3 deleted=3 bytes=9120 duration=0.41s expired=2
/// ban address=192.0.2.7 key=192.0.2.7 failures=10 window=600s duration=900s
/// ban user=alice address=192.0.2.7 failures=10 window=600s duration=900s
/// ```
/// `peer` is `IPv4:port` or `[IPv6]:port`. A user name that is not printable is logged as
/// `user=-`. For fail2ban:
/// ```
/// failregex = login failed user=\S* peer=\[?<HOST>\]?:\d+
/// ```
/// or, to leave the counting to the server (contrib/fail2ban/filter.d/postoffice.conf), one
/// match per ban, with `maxretry = 1`:
/// ```
/// failregex = \bpop3: ban address=<ADDR>
/// ```
/// In a ban line `address` is the client's own address (never bracketed) and `key` what the
/// ban covers (the address, or the /64 of an IPv6 address).
public enum LoginLog {
    public static func success(user: String, peer: PeerAddress, tls: Bool, mechanism: String) -> String {
        "login ok user=\(printable(user)) peer=\(peer) tls=\(tls ? "yes" : "no") mech=\(mechanism)"
    }

    public static func failure(user: String?, peer: PeerAddress, tls: Bool, mechanism: String, reason: String) -> String
    {
        "login failed user=\(user.map(printable) ?? "-") peer=\(peer) tls=\(tls ? "yes" : "no") mech=\(mechanism) reason=\(reason)"
    }

    /// A login refused by the account's login delay (RFC 2449 §6.5): right credentials, too soon.
    public static func delayed(user: String, peer: PeerAddress, secondsLeft: Int) -> String {
        "login delayed user=\(printable(user)) peer=\(peer) wait=\(secondsLeft)s"
    }

    /// `expired` counts the messages among `deleted` that the retention policy removed (RFC 2449
    /// §6.7); the field is written only when there were some.
    public static func logout(
        user: String,
        retrieved: Int,
        deleted: Int,
        expired: Int = 0,
        bytes: Int,
        duration: Duration
    ) -> String {
        let milliseconds = max(
            0,
            duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        )
        let hundredths = (milliseconds % 1000) / 10
        let seconds = "\(milliseconds / 1000).\(hundredths < 10 ? "0" : "")\(hundredths)s"
        let line =
            "logout user=\(printable(user)) retrieved=\(retrieved) deleted=\(deleted) bytes=\(bytes) duration=\(seconds)"
        return expired > 0 ? line + " expired=\(expired)" : line
    }

    public static func ban(_ key: BanKey, peer: PeerAddress, policy: BanPolicy) -> String {
        let tail = "failures=\(policy.failures) window=\(policy.window)s duration=\(policy.banTime)s"
        switch key {
        case .address(let covered):
            return "ban address=\(peer.ip) key=\(covered) \(tail)"
        case .user(let name):
            return "ban user=\(printable(name)) address=\(peer.ip) \(tail)"
        }
    }

    /// The name itself when it is printable and has no spaces (it cannot then break the line
    /// format), otherwise `-`.
    static func printable(_ user: String) -> String {
        let ok =
            !user.isEmpty && user.utf8.count <= 255
            && user.unicodeScalars.allSatisfy {
                $0.value > 0x20 && $0.value != 0x7F && $0.properties.generalCategory != .control
            }
        return ok ? user : "-"
    }
}
