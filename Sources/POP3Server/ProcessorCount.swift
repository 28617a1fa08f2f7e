// POP3Server: how many event loops the server runs: one per processor it may run on.
import FileIO
import NIOCore
import SystemPackage

/// The processors this process may run on.
public enum ProcessorCount {
    /// On Linux the processors in the process's CPU affinity mask (`taskset`,
    /// `sched_setaffinity`, a container's cpuset), capped by NIO's count (which honours cgroup
    /// quotas); elsewhere NIO's `System.coreCount`. One event loop per processor: more loops
    /// on fewer processors only add thread switches.
    public static var available: Int {
        #if os(Linux)
            guard let status = Self.readStatus(), let allowed = Self.allowedProcessors(status: status) else {
                return System.coreCount
            }
            return max(1, min(allowed, System.coreCount))
        #else
            return System.coreCount
        #endif
    }

    /// The number of bits set in the `Cpus_allowed:` mask of a `/proc/<pid>/status` text
    /// (comma-separated groups of hex digits).
    static func allowedProcessors(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed:") {
            var count = 0
            for character in line.dropFirst("Cpus_allowed:".count) where character != "," && character != " " {
                guard let digit = character.hexDigitValue else {
                    guard character == "\t" else { return nil }
                    continue
                }
                count += digit.nonzeroBitCount
            }
            return count
        }
        return nil
    }

    #if os(Linux)
        /// The process's status file, read once at start-up (a few KiB; bounded all the same).
        private static func readStatus() -> String? {
            guard let bytes = try? FileSystem.readFile("/proc/self/status", limit: 1 << 16) else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
    #endif
}
