// POP3Server: how many event loops the server runs: one per processor it may run on.
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

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
        private static func readStatus() -> String? {
            let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                bytes += chunk[..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    #endif
}
