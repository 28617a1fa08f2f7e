// A server's memory and CPU, summed over its process tree (Dovecot runs a master, login, auth and
// one mail process per session; PostOffice runs one process), read from Linux's /proc.

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads `/proc` for a process and all its descendants.
struct ProcessTree: Sendable {
    var root: Int32
    var procRoot = "/proc"

    /// The root and every live descendant.
    func members() -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: self.procRoot)) ?? []
        for name in entries {
            guard let pid = Int32(name), let stat = self.stat(of: pid) else { continue }
            children[stat.parent, default: []].append(pid)
        }
        var found: [Int32] = []
        var queue = [self.root]
        while let pid = queue.popLast() {
            found.append(pid)
            queue.append(contentsOf: children[pid] ?? [])
        }
        return found
    }

    /// Proportional set size in KiB, summed over the tree (`Pss:` of `smaps_rollup`); processes
    /// that end while being read are skipped.
    func proportionalSetSizeKiB() -> Int {
        self.members().reduce(0) { total, pid in
            guard let text = try? String(contentsOfFile: "\(self.procRoot)/\(pid)/smaps_rollup", encoding: .utf8)
            else { return total }
            return total + (Self.field("Pss:", in: text) ?? 0)
        }
    }

    /// CPU time in seconds used by the tree so far, including children it has reaped (a mail
    /// process that ended is counted in its parent's `cutime`/`cstime`, exactly once).
    func cpuSeconds() -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return self.members().reduce(0) { total, pid in
            guard let stat = self.stat(of: pid) else { return total }
            return total + Double(stat.cpuTicks) / ticks
        }
    }

    struct Stat: Hashable {
        var parent: Int32
        /// utime + stime + cutime + cstime.
        var cpuTicks: Int
    }

    func stat(of pid: Int32) -> Stat? {
        guard let text = try? String(contentsOfFile: "\(self.procRoot)/\(pid)/stat", encoding: .utf8) else {
            return nil
        }
        return Self.parseStat(text)
    }

    /// Parses `/proc/PID/stat` (proc(5)): fields after the command name, which is in parentheses
    /// and may itself hold spaces and parentheses, so the text is split after the last ")".
    static func parseStat(_ text: String) -> Stat? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14...17.
        guard fields.count > 14, let parent = Int32(fields[1]) else { return nil }
        let times = fields[11...14].compactMap { Int($0) }
        guard times.count == 4 else { return nil }
        return Stat(parent: parent, cpuTicks: times.reduce(0, +))
    }

    /// The number after `name` in a `/proc` key-value text (`Pss:   1234 kB`).
    static func field(_ name: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return Int(line.dropFirst(name.count).split(separator: " ").first ?? "")
        }
        return nil
    }
}

/// CPU seconds this process has used (user + system).
func ownCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Raises this process's open-file limit to its hard limit (idle-session runs hold thousands of
/// sockets); returns the soft limit now in force.
@discardableResult
func raiseOpenFileLimit() -> Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return Int(limit.rlim_cur)
}
